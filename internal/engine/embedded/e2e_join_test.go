package embedded

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// joinReader is a gortsplib reader that records what a joining reader
// needs to decode: the sequence numbers it got and whether the first access
// unit it depacketized was a random-access one.
type joinReader struct {
	c     *gortsplib.Client
	start time.Time

	mu         sync.Mutex
	seqs       []uint16
	firstAU    bool // an access unit was decoded
	firstIsIDR bool
	firstAt    time.Time
	firstIDRAt time.Time
	idrCh      chan struct{}
}

func startJoinReader(t *testing.T, addr, path string, proto gortsplib.Protocol) (*joinReader, error) {
	t.Helper()
	u, err := base.ParseURL(rtspURL(addr, "", "", path))
	if err != nil {
		t.Fatal(err)
	}
	r := &joinReader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto},
		start: time.Now(), idrCh: make(chan struct{})}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	var f *format.H264
	medi := desc.FindFormat(&f)
	if medi == nil {
		r.c.Close()
		return nil, errors.New("no H264 track")
	}
	dec, _ := f.CreateDecoder()
	if _, err := r.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		r.c.Close()
		return nil, err
	}
	r.c.OnPacketRTP(medi, f, func(pkt *rtp.Packet) {
		now := time.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.seqs) < 5000 {
			r.seqs = append(r.seqs, pkt.SequenceNumber)
		}
		au, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		idr := h264.IsRandomAccess(au)
		if !r.firstAU {
			r.firstAU, r.firstIsIDR, r.firstAt = true, idr, now
		}
		if idr && r.firstIDRAt.IsZero() {
			r.firstIDRAt = now
			close(r.idrCh)
		}
	})
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	t.Cleanup(r.c.Close)
	return r, nil
}

func (r *joinReader) packets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

// TestRTSPFastJoin: with a 10 s GOP (-g 150 at 15 fps), RTSP readers that
// join a running stream get the cached GOP at once: their first access unit
// is an IDR, it arrives well before the next keyframe, and over TCP the
// packets that follow are exactly the publisher's, in order, without gap or
// duplicate (the hand-over from the cached GOP to the live stream).
func TestRTSPFastJoin(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	rtpAddr, rtcpAddr := testutil.FreeUDPPair(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam"}}, func(c *Config) {
		c.RTSPUDPRTPAddress, c.RTSPUDPRTCPAddress = rtpAddr, rtcpAddr
	})
	const gop = 10 * time.Second // -g 150 at 15 fps
	startFFmpegGOP(t, rtspURL(ts.rtspAddr, "", "", "cam"), 150)
	ts.waitReady(t, "cam", 15*time.Second)
	pi, _ := ts.pathInfo("cam")
	firstKey := pi.ReadyTime
	// Join in the middle of the GOP: at least 1.5 s after the keyframe.
	testutil.Eventually(t, 5*time.Second, "1.5 s into the first GOP", func() bool { return time.Since(firstKey) >= 1500*time.Millisecond })

	// 5 readers at once over TCP, plus ffprobe; then 1 over UDP (gortsplib
	// v5.3.1 races when a UDP SETUP runs concurrently with another SETUP of
	// the same stream: ServerStream.readerAdd reads the other sessions'
	// medias unlocked)
	joinStart := time.Now()
	nextKey := firstKey.Add(gop)
	type res struct {
		r   *joinReader
		err error
	}
	protos := []gortsplib.Protocol{gortsplib.ProtocolTCP, gortsplib.ProtocolTCP, gortsplib.ProtocolTCP,
		gortsplib.ProtocolTCP, gortsplib.ProtocolTCP, gortsplib.ProtocolUDP}
	results := make([]res, len(protos))
	var wg sync.WaitGroup
	for i, proto := range protos[:len(protos)-1] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := startJoinReader(t, ts.rtspAddr, "cam", proto)
			results[i] = res{r, err}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	probeStart := time.Now()
	out, err := ffprobeVideo(ctx, rtspURL(ts.rtspAddr, "", "", "cam"), "-rtsp_transport", "tcp")
	probeTook := time.Since(probeStart)
	if err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe joining over RTSP/TCP: %q %v", out, err)
	}
	t.Logf("ffprobe joining a running stream (10 s GOP): done after %v", probeTook)
	if probeTook > 5*time.Second {
		t.Errorf("ffprobe took %v: it waited for the next keyframe", probeTook)
	}
	wg.Wait()
	r, err := startJoinReader(t, ts.rtspAddr, "cam", gortsplib.ProtocolUDP)
	results[len(results)-1] = res{r, err}

	for i, rs := range results {
		if rs.err != nil {
			t.Fatalf("reader %d (%v): %v", i, protos[i], rs.err)
		}
		r := rs.r
		select {
		case <-r.idrCh:
		case <-time.After(time.Until(nextKey.Add(-2 * time.Second))):
			t.Fatalf("reader %d (%v) got no IDR before the next keyframe would come", i, protos[i])
		}
		r.mu.Lock()
		join := r.firstIDRAt.Sub(r.start)
		firstIsIDR := r.firstIsIDR
		untilNext := nextKey.Sub(r.firstIDRAt)
		r.mu.Unlock()
		t.Logf("reader %d (%v): first IDR %v after its DESCRIBE, %v before the next keyframe", i, protos[i],
			join.Round(time.Millisecond), untilNext.Round(time.Millisecond))
		if !firstIsIDR {
			t.Errorf("reader %d (%v): first access unit is not an IDR", i, protos[i])
		}
		if join > time.Second || untilNext < 5*time.Second {
			t.Errorf("reader %d (%v): joined in %v, %v before the next keyframe: not a fast join", i, protos[i], join, untilNext)
		}
	}
	if time.Since(joinStart) > 5*time.Second {
		t.Fatalf("joins took %v", time.Since(joinStart))
	}

	// TCP: contiguous sequence numbers across the hand-over
	for i, rs := range results {
		if protos[i] != gortsplib.ProtocolTCP {
			continue
		}
		r := rs.r
		n := r.packets()
		testutil.Eventually(t, 10*time.Second, "60 more packets", func() bool { return r.packets() >= n+60 })
		r.mu.Lock()
		seqs := append([]uint16(nil), r.seqs...)
		r.mu.Unlock()
		for k := 1; k < len(seqs); k++ {
			if seqs[k] != seqs[k-1]+1 {
				t.Fatalf("reader %d: packet %d has sequence number %d after %d (gap or duplicate at the hand-over?)",
					i, k, seqs[k], seqs[k-1])
			}
		}
		t.Logf("reader %d: %d packets in order", i, len(seqs))
	}

	// an ffmpeg reader decodes its first frame at once too
	ffCtx, ffCancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer ffCancel()
	ffStart := time.Now()
	cmd := exec.CommandContext(ffCtx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", rtspURL(ts.rtspAddr, "", "", "cam"), "-frames:v", "1", "-f", "null", "-")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg joining: %v\n%s", err, b)
	}
	t.Logf("ffmpeg joining a running stream: first frame decoded, exited after %v", time.Since(ffStart))
	if pi, _ := ts.pathInfo("cam"); pi.ReaderDrops != 0 {
		t.Errorf("drops: %d", pi.ReaderDrops)
	}
}

func TestRTPGOPCache(t *testing.T) {
	mk := func(seq uint16, ts uint32, marker bool, payload ...byte) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
	}
	var g rtpGOPCache
	// P frames before any IDR are not cached
	g.add(mk(1, 100, true, 0x41, 1))
	if g.gop() != nil {
		t.Fatal("cached without IDR")
	}
	// an IDR access unit: SPS, PPS in a STAP-A, then the IDR in two FU-A
	g.add(mk(2, 200, false, 0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 1))
	if g.gop() != nil {
		t.Fatal("cached from a parameter-set packet")
	}
	g.add(mk(3, 200, false, 0x7c, 0x85, 1))
	g.add(mk(4, 200, true, 0x7c, 0x45, 2))
	if got := g.gop(); len(got) != 3 || got[0].SequenceNumber != 2 {
		t.Fatalf("IDR access unit: %v", got)
	}
	g.add(mk(5, 300, true, 0x41, 2))
	g.add(mk(6, 400, false, 0x41, 3)) // access unit in progress
	if got := g.gop(); len(got) != 5 || got[4].SequenceNumber != 6 {
		t.Fatalf("GOP: %d packets", len(got))
	}
	// a new IDR (single NALU) restarts the GOP with its access unit
	g.add(mk(7, 400, true, 0x41, 4))
	g.add(mk(8, 500, false, 0x06, 5)) // SEI first
	g.add(mk(9, 500, true, 0x65, 6))
	if got := g.gop(); len(got) != 2 || got[0].SequenceNumber != 8 {
		t.Fatalf("new GOP: %v", got)
	}
	// copies, not references
	p := mk(10, 600, true, 0x41, 7)
	g.add(p)
	p.Payload[1] = 99
	if got := g.gop(); got[len(got)-1].Payload[1] != 7 {
		t.Fatal("cache shares the packet")
	}
	for _, c := range []struct {
		payload []byte
		want    bool
	}{
		{[]byte{0x65}, true}, {[]byte{0x41}, false}, {[]byte{0x7c, 0x05}, false}, {[]byte{0x7c, 0x85}, true},
		{[]byte{0x78, 0, 1, 0x67, 0, 1, 0x65}, true}, {[]byte{0x78, 0, 9, 0x65}, false}, {nil, false},
	} {
		if got := rtpHasIDR(c.payload); got != c.want {
			t.Errorf("rtpHasIDR(%x) = %v", c.payload, got)
		}
	}
}

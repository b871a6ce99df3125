package embedded

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// NAL units of a real stream (see testutil).
var (
	testSPS = testutil.H264SPS
	testPPS = testutil.H264PPS
	testIDR = testutil.H264IDR
	testP   = testutil.H264P
	testAUD = testutil.H264AUD
)

func TestH264TrackInfo(t *testing.T) {
	ti := h264TrackInfo(testSPS)
	if ti.Codec != "H264" || ti.Profile != "Constrained Baseline" || ti.Level != "2.2" || ti.Width != 640 || ti.Height != 360 {
		t.Fatalf("%+v", ti)
	}
}

// unitPath returns a path with a fake ready publisher (no RTSP session).
func unitPath(t *testing.T) (*path, *publisher, *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &Server{
		cfg:    Config{ReaderHoldTimeout: time.Second, HLSLinger: time.Second},
		log:    slog.New(slog.DiscardHandler),
		ctx:    ctx,
		cancel: cancel,
		demand: engine.NewDemandQueue(),
	}
	s.SetReaderHold(s.cfg.ReaderHoldTimeout)
	p := newPath(s, PathConfig{Name: "u"})
	pub := &publisher{id: "pub", since: time.Now(), format: &format.H264{}, stage: stageRecording}
	p.pub = pub
	return p, pub, s
}

func TestSlowSubscriberDropsAndResyncs(t *testing.T) {
	p, pub, _ := unitPath(t)
	pts := int64(0)
	write := func(n [][]byte) {
		pts += 6000
		p.writeAU(pub, pts, n)
	}
	write([][]byte{testSPS, testPPS, testIDR})
	write([][]byte{testP})
	if pub.stage != stageReady || len(pub.gop) != 2 {
		t.Fatalf("stage=%v gop=%d", pub.stage, len(pub.gop))
	}

	// a new subscriber starts with the cached GOP, squeezed in time
	fast, _ := p.subscribe(64, true)
	slow, _ := p.subscribe(3, false) // never read: must not block anything
	a, b := <-fast.ch, <-fast.ch
	if !a.idr || b.pts-a.pts != 1 || b.pts != pts {
		t.Fatalf("squeezed GOP: %d %d (last %d)", a.pts, b.pts, pts)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			write([][]byte{testP})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher blocked on a slow subscriber")
	}
	if got := len(fast.ch); got != 50 {
		t.Fatalf("fast subscriber has %d access units, want 50", got)
	}
	if p.drops.Load() == 0 || !slow.resync {
		t.Fatalf("drops %d resync %v", p.drops.Load(), slow.resync)
	}
	// the slow one resumes at the next IDR only
	for len(slow.ch) > 0 {
		<-slow.ch
	}
	write([][]byte{testP})
	if len(slow.ch) != 0 {
		t.Fatal("slow subscriber got a P frame while resyncing")
	}
	write([][]byte{testIDR})
	if au := <-slow.ch; !au.idr || h264rtp.NALUType(au.nalus[0]) != h264.NALUTypeSPS {
		t.Fatalf("resync AU: %+v", au)
	}
}

func TestWaitReadyAndDemand(t *testing.T) {
	p, pub, s := unitPath(t)
	p.pub = nil
	go s.demand.Run(s.ctx)

	got := make(chan error, 1)
	go func() {
		_, err := p.waitStage(context.Background(), stageReady, nil)
		got <- err
	}()
	if ev := <-s.demand.Out(); ev != (DemandEvent{Path: "u", Demanded: true}) {
		t.Fatalf("event %+v", ev)
	}
	if !p.attachPublisher(pub) {
		t.Fatal("attach failed")
	}
	p.writeAU(pub, 0, [][]byte{testSPS, testPPS, testIDR})
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if ev := <-s.demand.Out(); ev.Demanded {
		t.Fatalf("event %+v", ev)
	}

	// hold timeout
	p2, _, _ := unitPath(t)
	p2.pub = nil
	p2.s = s
	start := time.Now()
	if _, err := p2.waitStage(context.Background(), stageReady, nil); err != errHoldTimeout || time.Since(start) < time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestDemandQueueCoalesces(t *testing.T) {
	q := engine.NewDemandQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// nobody reads: set never blocks, and toggles collapse
	for i := range 1001 {
		q.Set("a", i%2 == 0) // ends at true
	}
	q.Set("b", true)
	q.Set("b", false) // b ends where the consumer believes it is: no event
	q.Set("c", true)
	var got []DemandEvent
	deadline := time.After(2 * time.Second)
	for len(got) == 0 || got[len(got)-1].Path != "c" {
		select {
		case ev := <-q.Out():
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("events so far %v, none for c", got)
		}
	}
	for _, ev := range got {
		if ev.Path == "b" {
			t.Fatalf("unexpected event for b in %v", got)
		}
	}
	if len(got) > 3 || got[len(got)-2] != (DemandEvent{Path: "a", Demanded: true}) {
		t.Fatalf("not coalesced: %v", got)
	}
}

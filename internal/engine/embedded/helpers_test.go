package embedded

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is a Server plus a recorder of its demand events.
type testServer struct {
	*Server
	rtspAddr, hlsAddr, webrtcAddr string

	mu     sync.Mutex
	events []DemandEvent
	notify chan struct{}
	done   chan struct{}
}

func newTestServer(t testing.TB, paths []PathConfig, mod func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		BindHost:  "127.0.0.1",
		HLSLinger: time.Second,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if mod != nil {
		mod(&cfg)
	}
	s := &Server{Config: cfg}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, notify: make(chan struct{}, 1), done: make(chan struct{})}
	ts.rtspAddr, ts.hlsAddr, ts.webrtcAddr = s.Addrs()
	go func() {
		defer close(ts.done)
		for ev := range s.Demand() {
			ts.mu.Lock()
			ts.events = append(ts.events, ev)
			ts.mu.Unlock()
			select {
			case ts.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		start := time.Now()
		s.Close()
		<-ts.done
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v", d)
		}
	})
	s.SetPaths(paths)
	return ts
}

func (ts *testServer) demandEvents(path string) []bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []bool
	for _, ev := range ts.events {
		if ev.Path == path {
			out = append(out, ev.Demanded)
		}
	}
	return out
}

// waitDemand waits for the n-th demand event of a path (1-based) and
// returns its state.
func (ts *testServer) waitDemand(t *testing.T, path string, n int, timeout time.Duration) bool {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if evs := ts.demandEvents(path); len(evs) >= n {
			return evs[n-1]
		}
		select {
		case <-ts.notify:
		case <-deadline.C:
			t.Fatalf("path %s: demand event #%d not received in %v (got %v)", path, n, timeout, ts.demandEvents(path))
		}
	}
}

func (ts *testServer) pathInfo(name string) (PathInfo, bool) {
	for _, pi := range ts.Paths() {
		if pi.Name == name {
			return pi, true
		}
	}
	return PathInfo{}, false
}

func hasReaderType(rs []Reader, typ string) bool {
	for _, r := range rs {
		if r.Type == typ {
			return true
		}
	}
	return false
}

// publisher is an ffmpeg process publishing testsrc over RTSP/TCP.
type publisher_ struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	exited chan struct{}
	err    error
}

func rtspURL(addr, user, pass, path string) string {
	if user != "" {
		return fmt.Sprintf("rtsp://%s:%s@%s/%s", user, pass, addr, path)
	}
	return fmt.Sprintf("rtsp://%s/%s", addr, path)
}

func startFFmpeg(t *testing.T, url string) *publisher_ {
	t.Helper()
	return startFFmpegGOP(t, url, 15)
}

// startFFmpegGOP publishes 640x360 at 15 fps with a keyframe every gop frames.
func startFFmpegGOP(t *testing.T, url string, gop int) *publisher_ {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0",
		"-f", "rtsp", "-rtsp_transport", "tcp", "-pkt_size", "1462", url) // as the service's publishers: RTSPS readers take no more
	pub := &publisher_{cmd: cmd, stderr: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = pub.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		pub.err = cmd.Wait()
		close(pub.exited)
	}()
	t.Cleanup(pub.stop)
	return pub
}

func (p *publisher_) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// waitExit waits for ffmpeg to end by itself.
func (p *publisher_) waitExit(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("ffmpeg still running after %v", timeout)
		return nil
	}
}

func (ts *testServer) waitReady(t testing.TB, path string, timeout time.Duration) time.Duration {
	t.Helper()
	return testutil.Eventually(t, timeout, "path "+path+" ready", func() bool {
		pi, ok := ts.pathInfo(path)
		return ok && pi.Ready
	})
}

// ffprobeVideo returns "codec,width,height" of the first video stream.
func ffprobeVideo(ctx context.Context, url string, extra ...string) (string, error) {
	args := append([]string{"-v", "error"}, extra...)
	args = append(args, "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url)
	out, err := exec.CommandContext(ctx, "ffprobe", args...).CombinedOutput()
	return firstLine(string(out)), err
}

// firstLine returns the first non-empty line of ffprobe output (HLS inputs
// list the stream once per program).
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// rtspStatus sends one RTSP request without credentials and returns the
// status code and the response headers.
func rtspStatus(t *testing.T, addr, method, path string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "%s rtsp://%s/%s RTSP/1.0\r\nCSeq: 1\r\n\r\n", method, addr, path)
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("RTSP %s %s: %v", method, path, err)
		}
		if line == "\r\n" {
			break
		}
		head.WriteString(line)
	}
	var code int
	if _, err := fmt.Sscanf(head.String(), "RTSP/1.0 %d", &code); err != nil {
		t.Fatalf("bad RTSP status: %q", head.String())
	}
	return code, head.String()
}

// rtspReader is a gortsplib client reading a path over TCP.
type rtspReader struct {
	c        *gortsplib.Client
	mu       sync.Mutex
	packets  int
	firstIDR time.Time
	idrCh    chan struct{}
	idrOnce  sync.Once
}

func startRTSPReader(t *testing.T, addr, user, pass, path string) (*rtspReader, error) {
	t.Helper()
	u, err := base.ParseURL(rtspURL(addr, user, pass, path))
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.ProtocolTCP
	r := &rtspReader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}, idrCh: make(chan struct{})}
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
		r.mu.Lock()
		r.packets++
		r.mu.Unlock()
		au, err := dec.Decode(pkt)
		if err == nil && h264.IsRandomAccess(au) {
			r.idrOnce.Do(func() {
				r.mu.Lock()
				r.firstIDR = time.Now()
				r.mu.Unlock()
				close(r.idrCh)
			})
		}
	})
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	t.Cleanup(r.c.Close)
	return r, nil
}

func (r *rtspReader) packetCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

func whepPost(ctx context.Context, url, user, pass, sdp string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(sdp))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := testHTTP.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b), nil
}

// startWHEP connects a WHEP reader (the shared internal/whep client) that
// records 30 access units from its first decodable IDR; lf sends the offer
// with bare LF. The session is closed when the test ends.
func startWHEP(t *testing.T, ctx context.Context, webrtcAddr, path, user, pass string, lf bool) (*whep.Session, error) {
	t.Helper()
	d := whep.Dialer{HTTPClient: testHTTP, RecordAUs: 30, OfferLF: lf}
	w, err := d.Dial(ctx, "http://"+webrtcAddr+"/"+path+"/whep", user, pass)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = w.Close() })
	if !strings.HasPrefix(w.Location(), "/"+path+"/whep/") {
		return nil, fmt.Errorf("bad Location %q", w.Location())
	}
	return w, nil
}

// probeAnnexB decodes the access units a WHEP session recorded with ffprobe.
func probeAnnexB(ctx context.Context, w *whep.Session) (string, error) {
	var buf bytes.Buffer
	if _, err := w.WriteAnnexB(&buf); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-f", "h264", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", "-i", "pipe:0")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func httpGet(t *testing.T, url, user, pass string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// testHTTP never keeps connections (no idle goroutines for goleak).
var testHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

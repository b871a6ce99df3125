package testutil

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
)

// RTSPCameraOptions configure a test camera. Zero fields take defaults.
type RTSPCameraOptions struct {
	Source string // lavfi source; default "testsrc=size=320x240:rate=15"
	FPS    int    // of Source; default 15
	// Username and Password, when set, are required from readers (Basic
	// or Digest, as gortsplib's server verifies them).
	Username, Password string
	TLS                *tls.Config // serve rtsps:// with it
}

// RTSPCamera is an RTSP server in the test process that plays one H.264
// stream at URL, encoded in real time by ffmpeg (see StartH264Encoder): a
// network camera for tests. It counts the reader sessions it served and
// can go away and come back on the same port.
type RTSPCamera struct {
	URL string // rtsp://127.0.0.1:<port>/cam (rtsps:// with TLS), no credentials

	t    testing.TB
	opts RTSPCameraOptions
	addr string
	t0   time.Time // the stream's time 0

	encMu sync.Mutex
	enc   *H264Encoder
	fed   chan struct{} // closed when enc's output is all sent

	mu      sync.Mutex
	server  *gortsplib.Server
	stream  *gortsplib.ServerStream
	media   *description.Media
	rtp     *rtph264.Encoder
	playing map[*gortsplib.ServerSession]bool
	opened  int // reader sessions that reached PLAY
	units   int // access units sent while up
}

// StartRTSPCamera starts a camera; it stops when the test ends.
func StartRTSPCamera(t testing.TB, opts RTSPCameraOptions) *RTSPCamera {
	t.Helper()
	if opts.Source == "" {
		opts.Source = "testsrc=size=320x240:rate=15"
	}
	if opts.FPS == 0 {
		opts.FPS = 15
	}
	c := &RTSPCamera{t: t, opts: opts, playing: map[*gortsplib.ServerSession]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	_ = ln.Close()
	scheme := "rtsp"
	if opts.TLS != nil {
		scheme = "rtsps"
	}
	c.URL = scheme + "://" + c.addr + "/cam"
	c.Start()
	c.t0 = time.Now()
	c.SetSource(opts.Source)
	t.Cleanup(func() {
		c.stopEncoder()
		c.Stop()
	})
	return c
}

// SetSource makes the camera encode another lavfi source (at the same
// rate) from now on, in the same RTSP stream: its SPS changes when the
// size does, its sessions stay.
func (c *RTSPCamera) SetSource(source string) {
	c.t.Helper()
	c.stopEncoder()
	enc := StartH264Encoder(c.t, source, c.opts.FPS)
	fed := make(chan struct{})
	start := time.Since(c.t0)
	go func() {
		defer close(fed)
		enc.Feed(start, c.opts.FPS, c.send)
	}()
	c.encMu.Lock()
	c.enc, c.fed = enc, fed
	c.encMu.Unlock()
}

func (c *RTSPCamera) stopEncoder() {
	c.encMu.Lock()
	enc, fed := c.enc, c.fed
	c.enc = nil
	c.encMu.Unlock()
	if enc != nil {
		enc.Kill()
		<-fed
	}
}

// SetTLS changes the certificate (TLS configuration) the camera serves
// with from its next Start.
func (c *RTSPCamera) SetTLS(cfg *tls.Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.TLS = cfg
}

// Start brings the camera (back) up on its port.
func (c *RTSPCamera) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		return
	}
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	c.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	enc, err := forma.CreateEncoder()
	if err != nil {
		c.t.Fatal(err)
	}
	c.rtp = enc
	c.server = &gortsplib.Server{Handler: (*cameraHandler)(c), RTSPAddress: c.addr, TLSConfig: c.opts.TLS}
	// The port was just ours (or just closed by Stop): retry a moment
	// in case the kernel has not let go of it yet.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = c.server.Start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(PollInterval)
	}
	if err != nil {
		c.t.Fatalf("test camera on %s: %v", c.addr, err)
	}
	c.stream = &gortsplib.ServerStream{Server: c.server, Desc: &description.Session{Medias: []*description.Media{c.media}}}
	if err := c.stream.Initialize(); err != nil {
		c.t.Fatal(err)
	}
}

// Stop takes the camera away: its sessions end and its port refuses
// connections until Start.
func (c *RTSPCamera) Stop() {
	c.mu.Lock()
	server, stream := c.server, c.stream
	c.server, c.stream = nil, nil
	c.mu.Unlock()
	if server != nil {
		stream.Close()
		server.Close()
	}
}

// Readers is the number of reader sessions playing now.
func (c *RTSPCamera) Readers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.playing)
}

// SessionsOpened is the number of reader sessions that reached PLAY.
func (c *RTSPCamera) SessionsOpened() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened
}

// AccessUnitsSent is the number of access units sent while the camera was up.
func (c *RTSPCamera) AccessUnitsSent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units
}

// send packetizes one access unit onto the stream, if the camera is up.
func (c *RTSPCamera) send(pts time.Duration, au [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream == nil {
		return nil
	}
	pkts, err := c.rtp.Encode(au)
	if err != nil {
		return err
	}
	ts := uint32(pts * 90000 / time.Second)
	for _, pkt := range pkts {
		pkt.Timestamp = ts
		if err := c.stream.WritePacketRTP(c.media, pkt); err != nil {
			return nil // closing
		}
	}
	c.units++
	return nil
}

// cameraHandler answers the camera's RTSP requests.
type cameraHandler RTSPCamera

func (h *cameraHandler) allowed(conn *gortsplib.ServerConn, req *base.Request) bool {
	return h.opts.Username == "" || conn.VerifyCredentials(req, h.opts.Username, h.opts.Password)
}

func (h *cameraHandler) currentStream() *gortsplib.ServerStream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stream
}

func (h *cameraHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.allowed(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return h.answer(ctx.Path)
}

func (h *cameraHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.allowed(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return h.answer(ctx.Path)
}

func (h *cameraHandler) answer(path string) (*base.Response, *gortsplib.ServerStream, error) {
	st := h.currentStream()
	if path != "/cam" || st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *cameraHandler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.playing[ctx.Session] = true
	h.opened++
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *cameraHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.playing, ctx.Session)
}

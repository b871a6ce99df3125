package embedded

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/google/uuid"
	"github.com/pion/rtp"
)

// rtspHandler implements the gortsplib server callbacks. Each callback runs
// on the goroutine of its connection or session, so holding a DESCRIBE or
// SETUP only holds that client.
type rtspHandler struct {
	s *Server
}

// rtspConnState is attached to a connection that DESCRIBEd (or SETUP) a ready
// path and has not started playing yet; it counts as a reader for demand
// meanwhile. The connection and its session goroutines both touch it.
type rtspConnState struct {
	mu      sync.Mutex
	pending *path
}

// rtspSessionState is attached to every session we accepted.
type rtspSessionState struct {
	p      *path
	id     string
	pub    *publisher // nil for readers
	reader bool       // registered as a reader (after PLAY)
	joined *publisher // the publisher whose GOP it got at PLAY (session goroutine only)
}

func status(code base.StatusCode) *base.Response {
	return &base.Response{StatusCode: code}
}

func (h *rtspHandler) path(reqPath string) *path {
	return h.s.lookup(cleanPathName(reqPath))
}

// connState returns the state of a connection, created on first use (the
// connection's goroutine and its session's goroutine never run a request at
// the same time, the request/response exchange orders them).
func connState(c *gortsplib.ServerConn) *rtspConnState {
	if st, ok := c.UserData().(*rtspConnState); ok {
		return st
	}
	st := &rtspConnState{}
	c.SetUserData(st)
	return st
}

// takePending detaches the pending path of a connection, if any.
func (st *rtspConnState) takePending() *path {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.pending
	st.pending = nil
	return p
}

// releasePending stops counting a connection as a pending reader.
func releasePending(st *rtspConnState) {
	if p := st.takePending(); p != nil {
		p.mu.Lock()
		p.pending--
		p.updateDemandLocked()
		p.mu.Unlock()
	}
}

func (h *rtspHandler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	if st, ok := ctx.Conn.UserData().(*rtspConnState); ok {
		releasePending(st)
	}
}

// readerAllowed checks the read credentials of a path.
func readerAllowed(c *gortsplib.ServerConn, req *base.Request, pc PathConfig) bool {
	return !pc.readAuth() || c.VerifyCredentials(req, pc.ReadUser, pc.ReadPass)
}

// holdReader waits until p is armed (see path.waitStage) on behalf of an
// RTSP connection, which then counts as a pending reader until PLAY.
func (h *rtspHandler) holdReader(c *gortsplib.ServerConn, p *path) (*publisher, *base.Response) {
	st := connState(c)
	st.mu.Lock()
	other := st.pending != nil && st.pending != p
	st.mu.Unlock()
	if other {
		releasePending(st) // the connection switched paths
	}
	start := time.Now()
	pub, err := p.waitStage(context.Background(), stageArmed, func() {
		// under p.mu
		st.mu.Lock()
		if st.pending == nil {
			st.pending = p
			p.pending++
		}
		st.mu.Unlock()
	})
	if err != nil {
		h.s.log.Info("[RTSP] reader not served", "path", p.name, "reason", err.Error(),
			"remote", c.NetConn().RemoteAddr().String(), "held", time.Since(start).Round(time.Millisecond).String())
		var refused *refusedError
		if errors.Is(err, errServerClosed) || errors.As(err, &refused) {
			return nil, status(base.StatusServiceUnavailable)
		}
		return nil, status(base.StatusNotFound)
	}
	return pub, nil
}

func (h *rtspHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	_, pub, res, err := h.admitReader(ctx.Conn, ctx.Request, ctx.Path)
	if res != nil {
		return res, nil, err
	}
	return status(base.StatusOK), pub.stream, nil
}

// admitReader finds the path a reader asks for, checks its credentials and
// holds it until the path has a stream. A non-nil response (and error, for
// gortsplib's auth handling) is the refusal to send.
func (h *rtspHandler) admitReader(c *gortsplib.ServerConn, req *base.Request, name string) (*path, *publisher, *base.Response, error) {
	p := h.path(name)
	if p == nil {
		return nil, nil, status(base.StatusNotFound), nil
	}
	if !readerAllowed(c, req, p.config()) {
		return nil, nil, status(base.StatusUnauthorized), liberrors.ErrServerAuth{}
	}
	pub, res := h.holdReader(c, p)
	return p, pub, res, nil
}

func (h *rtspHandler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	p := h.path(ctx.Path)
	if p == nil {
		h.s.log.Warn("[RTSP] publish to an unconfigured path refused", "path", ctx.Path)
		return status(base.StatusNotFound), nil
	}
	remote := ctx.Conn.NetConn().RemoteAddr()
	if !isLoopback(remote) {
		h.s.log.Warn("[RTSP] publish from a non-loopback address refused", "path", p.name, "remote", remote.String())
		return status(base.StatusForbidden), nil
	}
	pc := p.config()
	if (pc.PublishUser != "" || pc.PublishPass != "") &&
		!ctx.Conn.VerifyCredentials(ctx.Request, pc.PublishUser, pc.PublishPass) {
		if _, ok := ctx.Request.Header["Authorization"]; ok {
			h.s.log.Warn("[RTSP] publish with wrong credentials refused", "path", p.name)
		}
		return status(base.StatusUnauthorized), liberrors.ErrServerAuth{}
	}

	video, err := announcedVideo(ctx.Description)
	switch {
	case errors.Is(err, errNoH264):
		h.s.log.Warn("[RTSP] publish without an H.264 track refused", "path", p.name)
		return status(base.StatusUnsupportedMediaType), nil
	case err != nil:
		return status(base.StatusBadRequest), err
	}
	stream := &gortsplib.ServerStream{Server: h.s.rtsp, Desc: ctx.Description}
	if err := stream.Initialize(); err != nil {
		return status(base.StatusInternalServerError), err
	}
	pub := &publisher{
		session: ctx.Session,
		id:      uuid.NewString(),
		since:   time.Now(),
		stream:  stream,
		media:   video.media,
		format:  video.format,
		decoder: video.decoder,
		sps:     video.sps,
		pps:     video.pps,
		stage:   stageAnnounced, // until RECORD
	}
	if !p.attachPublisher(pub) {
		stream.Close()
		return status(base.StatusNotFound), nil
	}
	ctx.Session.SetUserData(&rtspSessionState{p: p, id: pub.id, pub: pub})
	h.s.log.Info("[RTSP] publisher announced", "path", p.name, "id", pub.id, "remote", remote.String())
	return status(base.StatusOK), nil
}

// errNoH264 refuses an ANNOUNCE without an H.264 track.
var errNoH264 = errors.New("no H.264 track")

// announced is what a publisher's ANNOUNCE gives its path: the H.264
// track, an RTP decoder for it, and the SDP's parameter sets (copies; nil
// unless both are there).
type announced struct {
	media    *description.Media
	format   *format.H264
	decoder  *rtph264.Decoder
	sps, pps []byte
}

// announcedVideo picks the H.264 track of an ANNOUNCEd description. The
// description is the publisher's (any loopback client): whatever it holds
// must not crash the engine (see FuzzPublisherInput).
func announcedVideo(desc *description.Session) (announced, error) {
	var f *format.H264
	medi := desc.FindFormat(&f)
	if medi == nil {
		return announced{}, errNoH264
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		return announced{}, err
	}
	a := announced{media: medi, format: f, decoder: dec}
	if sps, pps := f.SafeParams(); len(sps) > 0 && len(pps) > 0 {
		a.sps, a.pps = append([]byte(nil), sps...), append([]byte(nil), pps...)
	}
	return a, nil
}

func (h *rtspHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return status(base.StatusOK), nil, nil
	}
	p, pub, res, err := h.admitReader(ctx.Conn, ctx.Request, ctx.Path)
	if res != nil {
		return res, nil, err
	}
	if _, ok := ctx.Session.UserData().(*rtspSessionState); !ok {
		ctx.Session.SetUserData(&rtspSessionState{p: p, id: uuid.NewString()})
	}
	return status(base.StatusOK), pub.stream, nil
}

func (h *rtspHandler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	st, ok := ctx.Session.UserData().(*rtspSessionState)
	if !ok || st.pub != nil {
		return status(base.StatusBadRequest), nil
	}
	p := st.p
	cs := connState(ctx.Conn)
	pending := cs.takePending()
	p.mu.Lock()
	if pending == p {
		p.pending--
		pending = nil
	}
	if p.removed {
		p.updateDemandLocked()
		p.mu.Unlock()
		releasePending(&rtspConnState{pending: pending})
		return status(base.StatusNotFound), nil
	}
	var join *publisher // the publisher whose stream this session plays, on its first PLAY
	if !st.reader {
		st.reader = true
		p.readers[st.id] = Reader{Type: ReaderRTSP, ID: st.id, Since: time.Now()}
		if p.pub != nil && p.pub.stream == ctx.Session.Stream() {
			join = p.pub
		}
	}
	p.updateDemandLocked()
	p.mu.Unlock()
	releasePending(&rtspConnState{pending: pending}) // pending on another path
	gop := 0
	if join != nil {
		gop = p.joinRTSP(join, ctx.Session)
		st.joined = join
	}
	h.s.log.Info("[RTSP] reader playing", "path", p.name, "id", st.id,
		"remote", ctx.Conn.NetConn().RemoteAddr().String(), "gopPackets", gop)
	return status(base.StatusOK), nil
}

func (h *rtspHandler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	st, ok := ctx.Session.UserData().(*rtspSessionState)
	if !ok || st.pub == nil {
		return status(base.StatusBadRequest), nil
	}
	p, pub := st.p, st.pub
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, forma format.Format, pkt *rtp.Packet) {
		p.onRTP(pub, medi, forma, pkt)
	})
	p.startRecording(pub)
	h.s.log.Info("[RTSP] publisher recording", "path", p.name, "id", pub.id)
	return status(base.StatusOK), nil
}

func (h *rtspHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	st, ok := ctx.Session.UserData().(*rtspSessionState)
	if !ok {
		return
	}
	if st.pub != nil {
		st.p.detachPublisher(st.pub)
		return
	}
	if st.joined != nil {
		st.joined.leaveRTSP(ctx.Session)
	}
	if st.reader {
		st.p.removeReader(st.id)
		h.s.log.Info("[RTSP] reader left", "path", st.p.name, "id", st.id)
	}
}

func (h *rtspHandler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	if st, ok := ctx.Session.UserData().(*rtspSessionState); ok {
		st.p.drops.Add(1)
	}
}

func (h *rtspHandler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if st, ok := ctx.Session.UserData().(*rtspSessionState); ok {
		h.s.log.Debug("[RTSP] packets lost", "path", st.p.name, "lost", ctx.Lost)
	}
}

func (h *rtspHandler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	if st, ok := ctx.Session.UserData().(*rtspSessionState); ok {
		h.s.log.Debug("[RTSP] decode error", "path", st.p.name, "err", ctx.Error)
	}
}

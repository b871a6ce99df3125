package camerahub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Local is a camera that ffmpeg reads itself, because no network and no
// secret is involved: a local file (played in a loop at its own rate) or
// the built-in test scene. Two consumers of one Local and size share one
// ffmpeg.
type Local struct {
	// Path is the file's resolved absolute path (camerainput checked it);
	// empty: the test scene.
	Path string
	// FPS is the camera's rate: the test scene is drawn at it (0:
	// TestFPS), a file is resampled to it (0: the file's own).
	FPS int
}

// LocalOf is the hub's local camera for a file or test-scene camera
// record (in: what camerainput made of its URL): at the camera's own rate,
// which each consumer's FPS then limits as for an RTSP camera.
func LocalOf(c model.Camera, in camerainput.Input) Local {
	l := Local{}
	if in.Kind == camerainput.File {
		l.Path = in.Path
	}
	if c.FPS != nil {
		l.FPS = *c.FPS
	}
	return l
}

// Geometry of the test scene at its own size.
const (
	TestWidth  = 1280
	TestHeight = 720
	TestFPS    = 15
)

// fileProtocols are all a file camera's ffmpeg may open.
const fileProtocols = "file"

// TestScene is the lavfi graph of the built-in test camera: a dark grid
// with an orange square that moves for 12 s of every 30 s, so motion gates
// open and close and detectors find something, and a small white dot that
// always runs along the bottom edge, so the stream never looks frozen. The
// dot is too small to open a motion gate (about 0.06 % of the picture
// changes per frame, the demo's gate opens at 0.2 %).
func TestScene(width, height, fps int) string {
	box := max(8, height/5)
	dot := max(4, height/45)
	return fmt.Sprintf("color=c=0x2b3a4a:s=%dx%d:r=%d,drawgrid=w=%d:h=%d:t=1:c=0x3c4d5e[bg];"+
		"color=c=0xffa020:s=%dx%d:r=%d[box];"+
		"color=c=0xf0f0f0:s=%dx%d:r=%d[dot];"+
		"[bg][box]overlay=x='mod(t*%d,%d)':y='%d+%d*sin(t*0.9)':enable='lt(mod(t,30),12)'[scene];"+
		"[scene][dot]overlay=x='mod(t*%d,%d)':y=%d",
		width, height, fps, max(8, width/8), max(8, height/6), box, box, fps, dot, dot, fps,
		width/5, width-box, height/2-box/2, height/4,
		width/10, width-dot, height-2*dot)
}

// localArgs is the command line of a local camera's ffmpeg at one output
// size (0x0: its own): the file (named "file:<path>" with only the file
// protocol allowed, so nothing in a name makes ffmpeg open something else)
// or the scene, read in real time, BGR24 on stdout. The test scene is drawn
// at the output size; a file is scaled.
func localArgs(src Local, width, height int, logLevel string) []string {
	args := []string{"-hide_banner", "-loglevel", atLeastInfo(logLevel), "-nostats", "-nostdin"}
	if src.Path == "" {
		w, h, fps := TestWidth, TestHeight, TestFPS
		if width > 0 {
			w, h = width, height
		}
		if src.FPS > 0 {
			fps = src.FPS
		}
		args = append(args, "-re", "-f", "lavfi", "-i", TestScene(w, h, fps))
	} else {
		args = append(args, "-protocol_whitelist", fileProtocols, "-stream_loop", "-1", "-re", "-i", "file:"+src.Path)
		var filters []string
		if src.FPS > 0 {
			filters = append(filters, "fps="+strconv.Itoa(src.FPS))
		}
		if width > 0 {
			filters = append(filters, fmt.Sprintf("scale=%d:%d", width, height))
		}
		if len(filters) > 0 {
			args = append(args, "-vf", strings.Join(filters, ","))
		}
	}
	return append(args, "-an", "-sn", "-dn", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
}

// atLeastInfo is a local camera's -loglevel: info unless a more verbose
// level is configured, because the frame size is read from the output
// description ffmpeg prints at info.
func atLeastInfo(level string) string {
	switch level {
	case "verbose", "debug", "trace":
		return level
	}
	return "info"
}

// outputSize finds the frame size in ffmpeg's description of its output
// (printed at -loglevel info, before the first frame).
var outputSize = regexp.MustCompile(`Video: rawvideo .*bgr24.*?, (\d+)x(\d+)`)

// sizeWait bounds the wait for the frame size once frames flow: ffmpeg
// printed it before the first frame, only the stderr reader may lag.
const sizeWait = 5 * time.Second

// localKey is one local ffmpeg: a camera at an output size.
type localKey struct {
	src           Local
	width, height int
}

// localSource is one ffmpeg reading a Local at one output size for all
// the consumers of that size. It starts with the first consumer, its
// publisher.Process restarts it when it dies, and it ends with the last
// consumer.
type localSource struct {
	hub   *Hub
	key   localKey
	proc  *publisher.Process
	subs  atomic.Pointer[[]*Frames]
	sizes chan [2]int // the running process's output size, from its stderr
	epoch time.Time   // frames' PTS count from here, across restarts

	frames     atomic.Uint64
	outW, outH atomic.Int64
}

// LocalFrames subscribes consumer to the frames of a local camera at the
// given size, sharing the ffmpeg of that camera and size with its other
// consumers; the ffmpeg starts with the first one.
func (h *Hub) LocalFrames(src Local, consumer string, opts FrameOptions) (*Frames, error) {
	if err := h.checkFrames(opts); err != nil {
		return nil, err
	}
	if src.Path != "" && !filepath.IsAbs(src.Path) {
		return nil, errors.New("camera hub: a file camera's path must be absolute")
	}
	if src.FPS < 0 {
		return nil, errors.New("camera hub: fps must not be negative")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	key := localKey{src, opts.Width, opts.Height}
	l := h.locals[key]
	if l == nil {
		var err error
		if l, err = h.startLocal(key); err != nil {
			return nil, err
		}
		h.locals[key] = l
	}
	f := &Frames{local: l, name: consumer, opts: opts, slot: make(chan Frame, 1), done: make(chan struct{}), limit: rateLimit{fps: opts.FPS}}
	l.setSubscribers(append(slices.Clone(*l.subs.Load()), f))
	return f, nil
}

// startLocal starts the ffmpeg of key (under h.mu).
func (h *Hub) startLocal(key localKey) (*localSource, error) {
	l := &localSource{hub: h, key: key, sizes: make(chan [2]int, 1), epoch: time.Now()}
	l.subs.Store(&[]*Frames{})
	if key.width > 0 {
		l.outW.Store(int64(key.width))
		l.outH.Store(int64(key.height))
	}
	name := "camera-testsrc"
	if key.src.Path != "" {
		name = "camera-file-" + filepath.Base(key.src.Path)
	}
	if key.width > 0 {
		name += "-" + strconv.Itoa(key.width) + "x" + strconv.Itoa(key.height)
	}
	l.proc = &publisher.Process{
		Spec: publisher.Spec{
			Name: name, Binary: h.FFmpeg, Args: localArgs(key.src, key.width, key.height, h.LogLevel),
			OnStderrLine: l.stderrLine,
			Stdout:       l.read,
		},
		Supervision: publisher.Supervision{LogDir: h.LogDir, Logger: h.log.With("camera", name)},
	}
	if err := l.proc.Initialize(); err != nil {
		return nil, err
	}
	return l, nil
}

// leaveLocal removes f; the ffmpeg that lost its last consumer ends before it
// returns.
func (h *Hub) leaveLocal(f *Frames) {
	l := f.local
	h.mu.Lock()
	subs := slices.DeleteFunc(slices.Clone(*l.subs.Load()), func(s *Frames) bool { return s == f })
	l.setSubscribers(subs)
	idle := len(subs) == 0 && h.locals[l.key] == l
	if idle {
		delete(h.locals, l.key)
	}
	h.mu.Unlock()
	if idle {
		l.proc.Close()
	}
}

// closeLocals ends every local ffmpeg and subscription (Hub.Close).
func (h *Hub) closeLocals() {
	h.mu.Lock()
	locals := h.locals
	h.locals = map[localKey]*localSource{}
	h.mu.Unlock()
	for _, l := range locals {
		for _, f := range *l.subs.Load() {
			f.end()
		}
		l.proc.Close()
	}
}

// LocalStatus is the state of a local camera's ffmpegs (one decoder entry
// per output size) and consumers; nothing while no one consumes it.
func (h *Hub) LocalStatus(src Local) Status {
	h.mu.Lock()
	var locals []*localSource
	for k, l := range h.locals {
		if k.src == src {
			locals = append(locals, l)
		}
	}
	h.mu.Unlock()
	out := Status{Consumers: []ConsumerStatus{}, Decoders: []DecoderStatus{}}
	for _, l := range locals {
		st := l.status()
		out.Connected = out.Connected || st.Running
		if st.OwnSize {
			out.Width, out.Height = st.Width, st.Height
		}
		out.Decoders = append(out.Decoders, st)
		for _, f := range *l.subs.Load() {
			out.Consumers = append(out.Consumers, f.status())
		}
	}
	slices.SortFunc(out.Consumers, func(a, b ConsumerStatus) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Decoders, func(a, b DecoderStatus) int { return a.Width*a.Height - b.Width*b.Height })
	return out
}

func (l *localSource) setSubscribers(subs []*Frames) { l.subs.Store(&subs) }

// stderrLine picks the output size from ffmpeg's description of it; the
// newest description wins (one sender, so the send never blocks).
func (l *localSource) stderrLine(line string) {
	m := outputSize.FindStringSubmatch(line)
	if m == nil {
		return
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	select {
	case <-l.sizes:
	default:
	}
	l.sizes <- [2]int{w, h}
}

// read is one process's Stdout hook: its frames, at the size it described,
// go to every subscriber.
func (l *localSource) read(r io.Reader) {
	defer func() {
		select { // a size this run printed must not frame the next one
		case <-l.sizes:
		default:
		}
	}()
	out := bufio.NewReader(r)
	if _, err := out.Peek(1); err != nil {
		return
	}
	var size [2]int
	timer := time.NewTimer(sizeWait)
	defer timer.Stop()
	select {
	case size = <-l.sizes:
	case <-timer.C:
		return // closing stdout ends ffmpeg; it is restarted
	}
	if frame.CheckSize(size[0], size[1]) != nil {
		return
	}
	l.outW.Store(int64(size[0]))
	l.outH.Store(int64(size[1]))
	readFrames(out, size[0], size[1], func(f *frame.Frame, now time.Time) {
		l.frames.Add(1)
		fr := Frame{Frame: f, PTS: now.Sub(l.epoch), Time: now}
		for _, s := range *l.subs.Load() {
			s.offer(fr)
		}
	})
}

// health is the ffmpeg's last error while it is not running, and its
// restarts (what a frames consumer reports).
func (l *localSource) health() (problem string, restarts int) {
	st := l.proc.Status()
	if !st.Running {
		problem = st.LastError
	}
	return problem, st.Restarts
}

func (l *localSource) status() DecoderStatus {
	st := l.proc.Status()
	return DecoderStatus{Width: int(l.outW.Load()), Height: int(l.outH.Load()), OwnSize: l.key.width == 0,
		Consumers: len(*l.subs.Load()), Running: st.Running, Restarts: st.Restarts, LastError: st.LastError,
		Frames: l.frames.Load()}
}

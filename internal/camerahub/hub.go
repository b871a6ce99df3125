// Package camerahub pulls the service's RTSP cameras: at most one RTSP
// client session per camera (gortsplib, TCP), whatever the number of
// consumers, with the camera's credentials in memory only. It fans the
// camera's H.264 access units out to consumers that want them compressed
// (a bypass publisher) and to decoders: one ffmpeg per camera and output
// size, shared by every consumer of that size, reading MPEG-TS on stdin
// and writing BGR24 frames on stdout.
//
// It must never make ffmpeg a network client: no URL, credential or
// network option reaches a decoder's command line or environment.
// Consumers never slow a camera down: each has a slot (frames: the newest
// one; access units: a bounded queue), and what it does not take in time
// is dropped and counted. A camera's session opens with its first
// consumer, is opened again with a growing backoff while consumers remain,
// and closes when the last one leaves.
package camerahub

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Defaults of the Hub's zero fields.
const (
	DefaultBackoffMin  = 500 * time.Millisecond
	DefaultBackoffMax  = 10 * time.Second
	DefaultReadTimeout = 10 * time.Second
)

// ErrClosed is returned by a subscription that was closed (or whose hub
// was), and by a closed hub.
var ErrClosed = errors.New("camera hub: closed")

// Source is a network camera. Two consumers of one Source share its
// session; its fields are never logged or reported (the URL is, since
// camerainput refuses credentials in it).
type Source struct {
	URL      string // rtsp:// or rtsps://, without credentials
	Username string
	Password string
}

// SourceOf is the hub's source for a camera record.
func SourceOf(c model.Camera) Source {
	src := Source{URL: c.URL}
	if c.Username != nil {
		src.Username = *c.Username
	}
	if c.Password != nil {
		src.Password = *c.Password
	}
	return src
}

// check refuses what is not a camera URL. It never repeats the URL.
func (s Source) check() error {
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || (!strings.EqualFold(u.Scheme, "rtsp") && !strings.EqualFold(u.Scheme, "rtsps")) || u.Host == "":
		return errors.New("camera hub: the camera URL must be rtsp:// or rtsps:// with a host")
	case u.User != nil:
		return errors.New("camera hub: put credentials in username and password, not in the URL")
	}
	return nil
}

// Hub holds the camera sessions and decoders. Configure the exported
// fields, then Initialize; Close ends every session and decoder.
type Hub struct {
	FFmpeg    string // the binary decoders run; empty: frames are refused with FFmpegErr
	FFmpegErr error  // why there is no ffmpeg
	LogDir    string // per-run decoder log files; empty: none
	LogLevel  string // decoders' -loglevel; empty: warning
	Logger    *slog.Logger
	// BackoffMin and BackoffMax bound the wait before a camera's session
	// is opened again; it doubles after each session that brought nothing.
	BackoffMin, BackoffMax time.Duration
	ReadTimeout            time.Duration // RTSP reads and writes

	log     *slog.Logger
	mu      sync.Mutex
	closed  bool
	cameras map[Source]*camera        // every camera consumed since Initialize (status survives idle times)
	locals  map[localKey]*localSource // the local cameras' ffmpegs that have consumers
}

// Initialize applies the defaults.
func (h *Hub) Initialize() error {
	if h.BackoffMin <= 0 {
		h.BackoffMin = DefaultBackoffMin
	}
	if h.BackoffMax < h.BackoffMin {
		h.BackoffMax = max(DefaultBackoffMax, h.BackoffMin)
	}
	if h.ReadTimeout <= 0 {
		h.ReadTimeout = DefaultReadTimeout
	}
	if h.LogLevel == "" {
		h.LogLevel = "warning"
	}
	h.log = h.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.cameras = map[Source]*camera{}
	h.locals = map[localKey]*localSource{}
	return nil
}

// Close ends every subscription, session and decoder, and waits for them.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	cams := make([]*camera, 0, len(h.cameras))
	for _, c := range h.cameras {
		cams = append(cams, c)
	}
	h.mu.Unlock()
	for _, c := range cams {
		c.shutdown()
	}
	h.closeLocals()
}

func (h *Hub) camera(src Source) (*camera, error) {
	if err := src.check(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	c := h.cameras[src]
	if c == nil {
		c = newCamera(h, src)
		h.cameras[src] = c
	}
	return c, nil
}

// FrameOptions are what a frames consumer wants.
type FrameOptions struct {
	Width, Height int // both 0: the camera's own size (from its SPS)
	FPS           int // at most this many frames a second (dropped in Go); 0: all
	// Probe marks a one-off reader (the API's connection test): an RTSP
	// camera only probes ever read is forgotten when its last consumer
	// leaves, so testing many drafts (wrong passwords included) leaves no
	// record and no credential behind.
	Probe bool
}

// Frames subscribes consumer (a name for the status) to the decoded frames
// of src at the given size. The decoder of that camera and size is shared
// with the other consumers of the size; it starts with the first one.
func (h *Hub) Frames(src Source, consumer string, opts FrameOptions) (*Frames, error) {
	if err := h.checkFrames(opts); err != nil {
		return nil, err
	}
	for {
		c, err := h.camera(src)
		if err != nil {
			return nil, err
		}
		f, err := c.subscribeFrames(consumer, opts)
		if err != errForgotten {
			return f, err
		}
		// The record was forgotten between the lookup and the subscription: take the new one.
	}
}

// checkFrames refuses options no decoder can follow, and any frames
// without an ffmpeg.
func (h *Hub) checkFrames(opts FrameOptions) error {
	switch {
	case (opts.Width == 0) != (opts.Height == 0) || opts.Width < 0 || opts.Height < 0:
		return errors.New("camera hub: width and height go together (both 0: the camera's size)")
	case opts.Width > 0 && frame.CheckSize(opts.Width, opts.Height) != nil:
		return fmt.Errorf("camera hub: %dx%d is beyond %dx%d", opts.Width, opts.Height, frame.MaxWidth, frame.MaxHeight)
	case opts.FPS < 0:
		return errors.New("camera hub: fps must not be negative")
	case h.FFmpeg == "":
		if h.FFmpegErr != nil {
			return h.FFmpegErr
		}
		return errors.New("camera hub: no ffmpeg to decode with")
	}
	return nil
}

// AccessUnits subscribes consumer to the camera's compressed stream (a
// bypass publisher): H.264 access units from the next IDR on.
func (h *Hub) AccessUnits(src Source, consumer string) (*AccessUnits, error) {
	for {
		c, err := h.camera(src)
		if err != nil {
			return nil, err
		}
		a, err := c.subscribeAccessUnits(consumer)
		if err != errForgotten {
			return a, err
		}
	}
}

// errForgotten is a subscription to a camera record that forget removed.
var errForgotten = errors.New("camera hub: camera record forgotten")

// forget removes c's record when only probes ever read it and none is
// left (see FrameOptions.Probe).
func (h *Hub) forget(c *camera) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kept || c.forgotten || c.run != nil || len(c.frames)+len(c.units) > 0 || h.cameras[c.src] != c {
		return
	}
	c.forgotten = true
	delete(h.cameras, c.src)
}

// Status is the state of src's camera; a camera never consumed since
// Initialize reports nothing connected and no consumers.
func (h *Hub) Status(src Source) Status {
	h.mu.Lock()
	c := h.cameras[src]
	h.mu.Unlock()
	if c == nil {
		return Status{Consumers: []ConsumerStatus{}, Decoders: []DecoderStatus{}}
	}
	return c.status()
}

// Status is what a camera reports. It never holds a credential.
type Status struct {
	Connected bool `json:"connected"`
	// Width and Height are the camera's picture size from its SPS (0
	// until one was seen).
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	FPS         float64 `json:"fps"`          // access units a second, over the last second
	BitrateKbps float64 `json:"bitrate_kbps"` // of the H.264 stream, over the last second
	// LastError is why the last session failed or ended (kept after a
	// reconnect, as history); null when no session ever failed.
	LastError      *string          `json:"last_error"`
	SessionsOpened int              `json:"sessions_opened"` // RTSP sessions that reached PLAY
	Consumers      []ConsumerStatus `json:"consumers"`
	Decoders       []DecoderStatus  `json:"decoders"`
}

// ConsumerStatus is one subscription.
type ConsumerStatus struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "frames" or "access_units"
	// Width and Height are what a frames consumer asked for (0x0: the
	// camera's size); FPSLimit its rate limit (0: none).
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	FPSLimit  int    `json:"fps_limit,omitempty"`
	Delivered uint64 `json:"delivered"`
	// Dropped were not taken before a newer one came (frames), or did not
	// fit the queue (access units, dropped up to the next IDR).
	Dropped uint64 `json:"dropped"`
}

// DecoderStatus is one decoder (camera and output size).
type DecoderStatus struct {
	// Width and Height are the output size (for a decoder at the
	// camera's own size, the size it runs at; 0 before the first IDR).
	Width     int  `json:"width"`
	Height    int  `json:"height"`
	OwnSize   bool `json:"own_size"` // follows the camera's size
	Consumers int  `json:"consumers"`
	Running   bool `json:"running"`
	// Restarts counts ffmpeg restarts (it died) and replacements (the
	// camera's size changed).
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
	Frames    uint64 `json:"frames"`
	// DroppedUnits did not fit the decoder's input queue (ffmpeg behind);
	// it then waits for the next IDR.
	DroppedUnits uint64 `json:"dropped_access_units"`
	// LatencyMS is the median over the last frames of the time from an
	// access unit written to ffmpeg to its frame read back.
	LatencyMS float64 `json:"latency_ms"`
}

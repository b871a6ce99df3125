package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/budget"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/reqbody"
)

// IngestLimits bound the work frame uploads cause; zero fields take the
// defaults below. They are not settings: tests shrink them.
type IngestLimits struct {
	// Decodes is shared by every frame being built (decoded, or converted
	// from raw pixels): each takes what building it allocates. Default: a
	// budget of DefaultDecodeBudget bytes.
	Decodes *budget.Budget
	// DecodeWait is how long a frame waits for its share before it is
	// refused with 503.
	DecodeWait time.Duration
	// PerClient is how many ingest requests one client address may have
	// in progress; more are refused with 429.
	PerClient int
	// FrameUpload is the overall deadline of one PUT .../frame body.
	FrameUpload time.Duration
}

// Defaults of IngestLimits. 256 MiB is ten 4K frames being decoded at
// once (a 4K frame decodes in tens of milliseconds, so that is hundreds
// of frames a second); 64 requests a client covers a pipeline host
// streaming 64 cameras over POST .../stream.
const (
	DefaultDecodeBudget    = 256 << 20
	DefaultDecodeWait      = 2 * time.Second
	DefaultIngestPerClient = 64
	DefaultFrameUpload     = 60 * time.Second
)

// FrameAreaFactor is how many times the pixels of a transmission's largest
// output an uploaded frame may have: twice each dimension, so a frame
// somewhat larger or of another orientation still fits, but a 7680x4320
// frame is not decoded to be scaled down to 1280x720.
const FrameAreaFactor = 4

func (l IngestLimits) withDefaults() IngestLimits {
	if l.Decodes == nil {
		l.Decodes = budget.New(DefaultDecodeBudget)
	}
	if l.DecodeWait <= 0 {
		l.DecodeWait = DefaultDecodeWait
	}
	if l.PerClient <= 0 {
		l.PerClient = DefaultIngestPerClient
	}
	if l.FrameUpload <= 0 {
		l.FrameUpload = DefaultFrameUpload
	}
	return l
}

// frameLimit is the largest frame a transmission takes.
type frameLimit struct {
	name       string
	outW, outH int // its largest output
	maxPixels  int
}

func limitFor(t model.Transmission) frameLimit {
	w, h := t.LargestOutput()
	return frameLimit{name: t.Label(), outW: w, outH: h, maxPixels: min(FrameAreaFactor*w*h, model.MaxWidth*model.MaxHeight)}
}

// check refuses a frame of w x h above the limit with 413.
func (l frameLimit) check(w, h int) error {
	if w <= model.MaxWidth && h <= model.MaxHeight && w*h <= l.maxPixels {
		return nil
	}
	return errorf(http.StatusRequestEntityTooLarge, "The frame is %dx%d; transmission '%s' takes frames of at most %d pixels (%d times its largest output, %dx%d) and at most %dx%d: scale frames down to the output size before sending them, or raise the output's resolution",
		w, h, l.name, l.maxPixels, FrameAreaFactor, l.outW, l.outH, model.MaxWidth, model.MaxHeight)
}

// buildFrame makes the frame of one upload. mediaType is image/png or
// image/jpeg for encoded data, "" for raw pixels of p's format and size
// (already checked against lim). An encoded frame's size is checked against
// lim from its header, before any pixel is decoded; then the frame waits
// for its share of the decode budget.
func (s *server) buildFrame(ctx context.Context, lim frameLimit, mediaType string, p frameParams, data []byte) (*frame.Frame, error) {
	cost := 3 * int64(p.width) * int64(p.height)
	if mediaType != "" {
		h, err := frame.ReadHeader(mediaType, data)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "cannot decode the %s frame: %v", mediaType, err)
		}
		if err := lim.check(h.Width, h.Height); err != nil {
			return nil, err
		}
		cost = h.Cost
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.ingest.DecodeWait)
	release, err := s.ingest.Decodes.Acquire(waitCtx, cost)
	cancel()
	if err != nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, retryAfter: "1", detail: fmt.Sprintf(
			"The server is decoding as many frames as its decode budget allows (%d MiB at once); this frame (%d MiB) waited %v: send it again in a second, or send smaller frames",
			s.ingest.Decodes.Capacity()>>20, (cost+1<<20-1)>>20, s.ingest.DecodeWait)}
	}
	defer release()
	if mediaType == "" {
		return rawFrame(p, data)
	}
	f, err := frame.Decode(mediaType, data)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "cannot decode the %s frame: %v", mediaType, err)
	}
	return f, nil
}

// clientSlots counts the ingest requests in progress of each client
// address.
type clientSlots struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// enter takes a slot for r's client, or refuses with 429 when it has max;
// leave gives it back.
func (c *clientSlots) enter(r *http.Request) (leave func(), err error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[host] >= c.max {
		return nil, errorf(http.StatusTooManyRequests, "%s already has %d frame uploads in progress, as many as one client may: wait for one to finish, or send frames over one POST .../stream per writer", host, c.max)
	}
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[host]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n[host]--; c.n[host] == 0 {
			delete(c.n, host)
		}
	}, nil
}

// bodyError is the answer to a failed read of a request body; tooLarge is
// the detail of a body above its limit.
func bodyError(err error, tooLarge string) error {
	var maxBytes *http.MaxBytesError
	var timeout *reqbody.TimeoutError
	switch {
	case errors.As(err, &maxBytes):
		return errorf(http.StatusRequestEntityTooLarge, "%s", tooLarge)
	case errors.As(err, &timeout):
		return errorf(http.StatusRequestTimeout, "%v: send request bodies without pauses", timeout)
	case errors.Is(err, reqbody.ErrCanceled):
		return errorf(http.StatusServiceUnavailable, "The server is shutting down: send the request again once it is back")
	}
	return errorf(http.StatusBadRequest, "Could not read the request body: %v", err)
}

package vision

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// Emit modes of vision.detect and vision.track.
const (
	modeEvents   = "events"
	modeAnnotate = "annotate"
)

// Artifact names.
const (
	artFrame    = "frame"
	artOriginal = "frame_original"
	artMask     = "mask"
)

// Status is what an operator of this package reports about itself.
type Status struct {
	Type    string `json:"type"`
	Method  string `json:"method"`  // the model-free method it runs
	Ignored string `json:"ignored"` // config fields accepted but ignored
	ModelID string `json:"model_id,omitempty"`
	// Categories are the configured categories (normalised); they do not
	// filter anything, every detection is labelled "motion".
	Categories []string `json:"categories,omitempty"`
	Frames     int64    `json:"frames"`  // packets with a frame analysed
	Emitted    int64    `json:"emitted"` // packets emitted
	Objects    int      `json:"objects"` // boxes / tracks / instances in the last frame
	EventOpen  bool     `json:"event_open"`
	// ChangedFraction is, for camera.motion_gate, the fraction of pixels
	// that changed in the last frame (compare with its threshold).
	ChangedFraction float64 `json:"changed_fraction,omitempty"`
}

// stats holds an operator's Status behind a mutex: Process runs on the
// runner's goroutine, Status may be called from any other.
type stats struct {
	mu sync.Mutex
	st Status
}

func (s *stats) snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Categories = append([]string(nil), s.st.Categories...)
	return st
}

// frameDone records one analysed frame.
func (s *stats) frameDone(objects int, open bool, emitted int) {
	s.mu.Lock()
	s.st.Frames++
	s.st.Objects = objects
	s.st.EventOpen = open
	s.st.Emitted += int64(emitted)
	s.mu.Unlock()
}

// decode fills dst (already holding the defaults) from raw, strictly, and
// prefixes errors with the operator type.
func decode(typ string, raw json.RawMessage, dst any) error {
	if err := pipeline.DecodeConfig(raw, dst); err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	return nil
}

// checkRange refuses v outside lo..hi, naming the field.
func checkRange(typ, field string, v, lo, hi float64) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s: config: %s %g out of range %g..%g", typ, field, v, lo, hi)
	}
	return nil
}

func checkMode(typ, mode string) error {
	if mode != modeEvents && mode != modeAnnotate {
		return fmt.Errorf("%s: config: emit_mode %q must be %q or %q", typ, mode, modeEvents, modeAnnotate)
	}
	return nil
}

// normCategories trims, lower-cases and de-duplicates categories, dropping
// empty ones.
func normCategories(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, c := range in {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

func logger(env pipeline.Env) *slog.Logger {
	if env.Logger != nil {
		return env.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// sourceFrame is the frame an operator analyses and draws on:
// "frame_original" when the packet has one, else "frame"; nil if neither is
// a usable frame.
func sourceFrame(p *pipeline.Packet) *frame.Frame {
	for _, name := range []string{artOriginal, artFrame} {
		if f := p.Artifacts[name]; usable(f) {
			return f
		}
	}
	return nil
}

// usable reports whether f is a well-formed BGR24 frame.
func usable(f *frame.Frame) bool {
	return f != nil && f.Width > 0 && f.Height > 0 && len(f.Data) >= f.Width*f.Height*3
}

// relabel returns a copy of p, with its own artifact map (which the caller
// may fill before emitting it), and lifecycle lc.
func relabel(p *pipeline.Packet, lc string) *pipeline.Packet {
	out := &pipeline.Packet{Artifacts: make(map[string]*frame.Frame, len(p.Artifacts)+2), Time: p.Time, Lifecycle: lc}
	for k, v := range p.Artifacts {
		out.Artifacts[k] = v
	}
	return out
}

// eventState is the open/update/close logic of the "events" emit modes:
// present says whether this frame has objects (or tracks).
type eventState struct{ open bool }

// next returns the lifecycle to emit for a frame and whether to emit it.
func (e *eventState) next(present bool) (string, bool) {
	switch {
	case present && !e.open:
		e.open = true
		return pipeline.Open, true
	case present:
		return pipeline.Update, true
	case e.open:
		e.open = false
		return pipeline.Close, true
	default:
		return "", false
	}
}

package engine

import (
	"errors"
	"time"
)

// VideoSink publishes one H.264 stream into one path of a running engine
// instance, from inside the service: the encoder only encodes, and the
// sink is the path's publisher. It outlives the encoders that feed it: when
// one dies, the next one writes into the same sink and the path's readers
// stay connected (see DESIGN.md, "Publishing without ffmpeg on the
// network").
type VideoSink interface {
	// WriteAccessUnit publishes one access unit: its NAL units without
	// start codes, in decode order (no B-frames), at presentation time pts
	// on the sink's clock. Parameter sets are learned in-band, kept, and put
	// in front of every IDR that lacks them, so the first access units may
	// come without them (they are held back from readers until they are
	// known). A pts that is not after the previous one (an encoder whose
	// clock restarted) is moved to one frame interval after it. The sink
	// copies what it keeps: au may be reused once the call returns. It never
	// waits on the network: an access unit the sink cannot send now is
	// dropped, and the stream resumes at the next IDR. It fails only with
	// ErrSinkClosed.
	WriteAccessUnit(pts time.Duration, au [][]byte) error
	// Close ends the path's stream (its readers are disconnected) and
	// waits for the sink's goroutines. It may be called more than once.
	Close()
}

var (
	// ErrSinkClosed is returned by a sink that was closed: by Close, by
	// the close of its engine instance, by the removal of its path, or by a
	// newer sink opened on its path.
	ErrSinkClosed = errors.New("the sink is closed: open a new one on the running engine")
	// ErrUnknownPath is returned when a sink is opened on a path the
	// engine instance does not serve.
	ErrUnknownPath = errors.New("the engine does not serve this path")
	// ErrNotRunning is returned when a sink is opened while no engine
	// instance runs (or on an instance that was closed).
	ErrNotRunning = errors.New("the engine is not running")
)

// OpenSink opens a sink on path of the engine instance this state
// describes. A sink belongs to that instance: when State.Generation
// changes, the caller closes it and opens a new one.
func (s *State) OpenSink(path string) (VideoSink, error) {
	if s.engine == nil {
		return nil, ErrNotRunning
	}
	return s.engine.OpenSink(path)
}

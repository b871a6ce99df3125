// Package streamwriter is how Go code running inside the service (a pipeline
// operator, an example, a test) publishes frames into a transmission: open a
// writer, write frames, close it. Writing never blocks and never waits on
// I/O; the runtime owns each frame once written.
package streamwriter

import (
	"sync"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
)

// Writer publishes frames into one transmission under one writer id.
// Safe for concurrent use.
type Writer struct {
	arb            *arbiter.Arbiter
	transmissionID string
	id             string

	mu       sync.Mutex
	priority int
	opened   bool
}

// Open returns a writer; it shows up for arbitration with its first frame.
func Open(arb *arbiter.Arbiter, transmissionID, writerID string, priority int) *Writer {
	return &Writer{arb: arb, transmissionID: transmissionID, id: writerID, priority: priority}
}

// Write publishes f, which the runtime owns from now on (do not change it).
// It returns the writer the transmission shows afterwards, or
// arbiter.ErrTooManyWriters when the transmission has no slot for a new
// writer (every one of them is busy).
func (w *Writer) Write(f *frame.Frame) (string, error) {
	w.mu.Lock()
	lc := arbiter.Update
	if !w.opened {
		lc, w.opened = arbiter.Open, true
	}
	priority := w.priority
	w.mu.Unlock()
	return w.arb.Publish(w.transmissionID, w.id, lc, priority, f)
}

// WriteBGR publishes a copy of raw BGR24 pixels.
func (w *Writer) WriteBGR(width, height int, data []byte) (string, error) {
	f, err := frame.NewBGR(width, height, data)
	if err != nil {
		return "", err
	}
	return w.Write(f)
}

// DeclareForward says that this writer only forwards a camera (nil: it
// does not), so the runtime may read the camera directly while it is shown.
func (w *Writer) DeclareForward(f *arbiter.Forward) { w.arb.SetForward(w.transmissionID, w.id, f) }

// SetPriority changes the priority used from the next frame on.
func (w *Writer) SetPriority(p int) {
	w.mu.Lock()
	w.priority = p
	w.mu.Unlock()
}

// Close ends the writer: the transmission stops showing it at once. A later
// Write opens it again.
func (w *Writer) Close() string {
	w.mu.Lock()
	w.opened = false
	w.mu.Unlock()
	return w.arb.Close(w.transmissionID, w.id)
}

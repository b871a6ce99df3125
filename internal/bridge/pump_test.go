package bridge

import (
	"bytes"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// holdingWriter is an encoder as WriteFrame describes it: the last two
// frames it took may still be read (one being written, one waiting). It
// checks that they were not changed since.
type holdingWriter struct {
	t      *testing.T
	held   []*frame.Frame
	copies [][]byte
	pts    []time.Duration
}

func (w *holdingWriter) WriteFrame(pts time.Duration, f *frame.Frame) error {
	for i, h := range w.held {
		if !bytes.Equal(h.Data, w.copies[i]) {
			w.t.Fatalf("frame %d changed while the encoder may still read it", len(w.pts)-len(w.held)+i)
		}
	}
	w.held = append(w.held, f)
	w.copies = append(w.copies, bytes.Clone(f.Data))
	if len(w.held) > 2 {
		w.held, w.copies = w.held[1:], w.copies[1:]
	}
	w.pts = append(w.pts, pts)
	return nil
}

// Every tick resizes a new source frame; none may land in a frame the
// encoder could still be reading. Ticks are stamped from the epoch.
func TestPumpNeverChangesAFrameTheEncoderHolds(t *testing.T) {
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	w := &holdingWriter{t: t}
	epoch := time.Now()
	p := newPump(encoding{transmissionID: "t", width: 64, height: 48, fps: 10, placeholder: model.PlaceholderGray}, selected{arb, "t"}, w, epoch)
	for i := range 10 {
		data := bytes.Repeat([]byte{byte(10 * i)}, 128*96*3)
		arb.Publish("t", "w", arbiter.Update, 0, &frame.Frame{Width: 128, Height: 96, Data: data})
		p.tick(time.Duration(i) * 100 * time.Millisecond)
	}
	if p.sent.Load() != 10 || w.pts[9] != 900*time.Millisecond {
		t.Fatalf("sent %d, pts %v", p.sent.Load(), w.pts)
	}
}

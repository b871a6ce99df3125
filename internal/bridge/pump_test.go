package bridge

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"testing/synctest"
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

// pacedWriter records when each frame reached it (virtual time in a
// synctest bubble).
type pacedWriter struct {
	mu    sync.Mutex
	sends []pacedSend
}

type pacedSend struct {
	at  time.Time
	pts time.Duration
	f   *frame.Frame
}

func (w *pacedWriter) WriteFrame(pts time.Duration, f *frame.Frame) error {
	w.mu.Lock()
	w.sends = append(w.sends, pacedSend{time.Now(), pts, f})
	w.mu.Unlock()
	return nil
}

func (w *pacedWriter) since(t time.Time) []pacedSend {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []pacedSend
	for _, s := range w.sends {
		if !s.at.Before(t) {
			out = append(out, s)
		}
	}
	return out
}

// runPaced runs a 30 fps pump for 4 s while a writer publishes a frame
// every period (none when period is 0), and returns the sends of the last
// 2 s with the publish time of each frame.
func runPaced(t *testing.T, period time.Duration) (sends []pacedSend, published map[*frame.Frame]time.Time) {
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	w := &pacedWriter{}
	epoch := time.Now()
	p := newPump(encoding{transmissionID: "t", width: 64, height: 48, fps: 30, placeholder: model.PlaceholderGray}, selected{arb, "t"}, w, epoch)
	defer func() { checkGrid(t, w.since(epoch), epoch) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	published = map[*frame.Frame]time.Time{}
	start := time.Now()
	time.Sleep(7 * time.Millisecond) // the writer starts out of phase with the placeholder's sends
	for period > 0 && time.Since(start) < 4*time.Second {
		f := &frame.Frame{Width: 64, Height: 48, Data: make([]byte, 64*48*3)}
		published[f] = time.Now()
		arb.Publish("t", "w", arbiter.Update, 0, f)
		time.Sleep(period)
	}
	time.Sleep(time.Until(start.Add(4 * time.Second)))
	cancel()
	<-done
	return w.since(start.Add(2 * time.Second)), published
}

// checkGrid fails unless every pts is a slot of the 30 fps grid, later
// than the one before and at most one slot ahead of its send time: players
// and ffprobe see the exact rate however frames are sent.
func checkGrid(t *testing.T, sends []pacedSend, epoch time.Time) {
	t.Helper()
	const interval = time.Second / 30
	for i, s := range sends {
		if s.pts%interval != 0 || i > 0 && s.pts <= sends[i-1].pts || s.pts > s.at.Sub(epoch)+interval {
			t.Fatalf("send %d at %v: pts %v (before: %v) is off the grid or ahead", i, s.at.Sub(epoch), s.pts, sends[max(i-1, 0)].pts)
		}
	}
}

// A writer a little slower than the encoding's rate (the latency
// benchmark's 29.88 fps into 30 fps), or much slower (10 fps into 30), has
// every frame encoded the moment it arrives; before, each waited for the
// next 30 fps tick (16.7 ms on average). The slots it leaves are filled by
// repeats, so the stream keeps 30 frames a second.
func TestPumpSendsAFrameAsItArrives(t *testing.T) {
	for _, period := range []time.Duration{time.Second * 100 / 2988, 100 * time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			sends, published := runPaced(t, period)
			if n := len(sends); n < 59 || n > 61 {
				t.Errorf("writer every %v: %d sends in 2 s, want 60 (30 fps)", period, n)
			}
			fresh := 0
			for i, s := range sends {
				at, ok := published[s.f]
				if ok && (i == 0 || sends[i-1].f != s.f) {
					fresh++
					if !s.at.Equal(at) {
						t.Fatalf("writer every %v: send %d waited %v after its frame was published", period, i, s.at.Sub(at))
					}
				}
			}
			if want := int(2 * time.Second / period); fresh < want-1 {
				t.Errorf("writer every %v: %d new frames sent in 2 s, want %d", period, fresh, want)
			}
		})
	}
}

// A faster writer is sampled at exactly the encoding's rate, and with no
// writer the placeholder is sent at that rate: the fps is a limit and the
// stream stays steady.
func TestPumpKeepsTheEncodingRate(t *testing.T) {
	for _, period := range []time.Duration{0, 25 * time.Millisecond, 16 * time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			sends, _ := runPaced(t, period)
			if n := len(sends); n < 59 || n > 61 {
				t.Errorf("writer every %v: %d sends in 2 s, want 60 (30 fps)", period, n)
			}
		})
	}
}

package bridge

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
)

// frameWriter is what a pump feeds (an encoder.Encoder): it takes a frame
// without waiting, or refuses it while it is still busy.
type frameWriter interface {
	WriteFrame(pts time.Duration, f *frame.Frame) error
}

// picture is where a pump takes its frames: the newest one and its
// sequence number (a new number for every new frame); nil: none yet.
// updated returns a channel closed when latest may have changed.
type picture interface {
	latest() (*frame.Frame, uint64)
	updated() <-chan struct{}
}

// selected is the transmission's selected writer's frame (raw frames).
type selected struct {
	arb            *arbiter.Arbiter
	transmissionID string
}

func (s selected) latest() (*frame.Frame, uint64) {
	sel := s.arb.Select(s.transmissionID)
	return sel.Frame, sel.Seq
}

func (s selected) updated() <-chan struct{} { return s.arb.Updated(s.transmissionID) }

// pump feeds one encoder at exactly the encoding's frame rate in pts:
// every slot of the fps grid from the epoch gets one frame. A new frame
// of its picture is sent the moment it arrives, taking the next slot up to
// one slot early, so an encode waits for no tick; when nothing new came by
// a slot's time, the current frame (or the placeholder) is sent again for
// it, so the encoder and the readers get a steady stream (a keyframe every
// fps frames is one second, HLS segments of their length). A picture
// faster than the rate is sampled: at most one new frame a slot, the
// newest. Each frame is brought to the encoding's size first. The encoder
// never makes it wait: a frame it refuses (still busy with earlier ones)
// is dropped and counted.
type pump struct {
	enc         encoding
	src         picture
	out         frameWriter
	epoch       time.Time // pts 0
	resizer     *frame.Resizer
	placeholder *frame.Frame

	// Resized frames. The encoder may still read the last two frames it
	// took (one being written to ffmpeg, one waiting: see
	// encoder.WriteFrame), so a new resize goes into the third.
	ring    [3]*frame.Frame
	resized *frame.Frame // the resize of source frame resizedSeq, nil: none
	// resizedSeq is the source frame in resized.
	resizedSeq uint64
	handed     [2]*frame.Frame // the last two frames the encoder took, newest first
	handedSeq  uint64          // the source frame of handed[0]
	slot       int64           // the fps grid slot of the last frame sent (-1: none yet)

	sent, dropped atomic.Uint64
	lastFrameAt   atomic.Int64 // unix microseconds of the last frame the encoder took
}

func newPump(e encoding, src picture, out frameWriter, epoch time.Time) *pump {
	p := &pump{
		enc:         e,
		src:         src,
		out:         out,
		epoch:       epoch,
		resizer:     frame.NewResizer(e.width, e.height),
		placeholder: frame.Placeholder(e.width, e.height, e.placeholder),
		slot:        -1,
	}
	for i := range p.ring {
		p.ring[i] = &frame.Frame{Width: e.width, Height: e.height, Data: make([]byte, e.width*e.height*3)}
	}
	return p
}

// run sends frames until ctx ends.
func (p *pump) run(ctx context.Context) {
	interval := time.Second / time.Duration(p.enc.fps)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		updated := p.src.updated()
		_, seq := p.src.latest()
		// A new frame may take the next slot once the current one began; a
		// repeat waits for the next slot's own time.
		due := p.epoch.Add(time.Duration(p.slot+1) * interval)
		if seq != p.handedSeq {
			due = due.Add(-interval)
		}
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-updated:
			continue // a new frame is due sooner than the repeat
		case <-timer.C:
		}
		p.tick(p.stamp(time.Now(), interval))
	}
}

// stamp is the pts of a frame sent at now: the next slot of the fps grid
// (slots the pump missed are skipped, never sent in a burst).
func (p *pump) stamp(now time.Time, interval time.Duration) time.Duration {
	p.slot = max(p.slot+1, int64(now.Sub(p.epoch)/interval))
	return time.Duration(p.slot) * interval
}

// tick sends the frame of now with pts and reports whether it was a new
// one (not a repeat of the frame sent before).
func (p *pump) tick(pts time.Duration) bool {
	f, seq := p.frame()
	if err := p.out.WriteFrame(pts, f); err != nil {
		p.dropped.Add(1) // the encoder is busy, between processes, or closing
		return false
	}
	fresh := seq != p.handedSeq
	p.handed, p.handedSeq = [2]*frame.Frame{f, p.handed[0]}, seq
	p.sent.Add(1)
	p.lastFrameAt.Store(time.Now().UnixMicro())
	return fresh
}

// frame returns the frame to send now. Frames already at the encoding's size
// (and the placeholder) are sent as they are, since they never change;
// others are resized once and reused while they stay selected.
func (p *pump) frame() (*frame.Frame, uint64) {
	src, seq := p.src.latest()
	if src == nil {
		src, seq = p.placeholder, 0
	}
	if src.Width == p.enc.width && src.Height == p.enc.height {
		return src, seq
	}
	if p.resized == nil || seq != p.resizedSeq {
		i := slices.IndexFunc(p.ring[:], func(f *frame.Frame) bool { return f != p.handed[0] && f != p.handed[1] })
		p.resizer.Contain(p.ring[i].Data, src)
		p.resized, p.resizedSeq = p.ring[i], seq
	}
	return p.resized, seq
}

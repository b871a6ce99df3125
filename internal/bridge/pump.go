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
type picture interface {
	latest() (*frame.Frame, uint64)
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

// pump feeds one encoder: at exactly the encoding's frame rate, paced by
// the wall clock, it takes its picture's newest frame (or the
// placeholder), brings it to the encoding's size and hands it to the
// encoder with the tick's time as its pts. The encoder never makes it wait: a
// frame it refuses (still busy with earlier ones) is dropped and counted.
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
	}
	for i := range p.ring {
		p.ring[i] = &frame.Frame{Width: e.width, Height: e.height, Data: make([]byte, e.width*e.height*3)}
	}
	return p
}

// run paces frames until ctx ends.
func (p *pump) run(ctx context.Context) {
	fps := int64(p.enc.fps)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		due := start.Add(time.Duration(n * int64(time.Second) / fps))
		if late := time.Since(due); late > time.Duration(int64(time.Second)/fps) {
			// Fell behind (the machine stalled): skip the missed ticks
			// instead of bursting them.
			skip := int64(late) * fps / int64(time.Second)
			p.dropped.Add(uint64(skip))
			n += skip
			due = start.Add(time.Duration(n * int64(time.Second) / fps))
		}
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		p.tick(due.Sub(p.epoch))
	}
}

func (p *pump) tick(pts time.Duration) {
	f := p.frame()
	if err := p.out.WriteFrame(pts, f); err != nil {
		p.dropped.Add(1) // the encoder is busy, between processes, or closing
		return
	}
	p.handed = [2]*frame.Frame{f, p.handed[0]}
	p.sent.Add(1)
	p.lastFrameAt.Store(time.Now().UnixMicro())
}

// frame returns the frame to send now. Frames already at the encoding's size
// (and the placeholder) are sent as they are, since they never change;
// others are resized once and reused while they stay selected.
func (p *pump) frame() *frame.Frame {
	src, seq := p.src.latest()
	if src == nil {
		src = p.placeholder
	}
	if src.Width == p.enc.width && src.Height == p.enc.height {
		return src
	}
	if p.resized == nil || seq != p.resizedSeq {
		i := slices.IndexFunc(p.ring[:], func(f *frame.Frame) bool { return f != p.handed[0] && f != p.handed[1] })
		p.resizer.Contain(p.ring[i].Data, src)
		p.resized, p.resizedSeq = p.ring[i], seq
	}
	return p.resized
}

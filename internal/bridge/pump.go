package bridge

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// pump feeds one publisher: at exactly the output's frame rate, paced by the
// wall clock, it takes the transmission's selected frame (or the
// placeholder), brings it to the output size and hands it to a writer
// goroutine that writes it to ffmpeg's stdin. When ffmpeg is slow the
// writer is still busy at the next tick and that frame is dropped
// (counted); nothing waits on ffmpeg but the writer.
type pump struct {
	target      model.Target
	arb         *arbiter.Arbiter
	resizer     *frame.Resizer
	placeholder *frame.Frame
	buf         []byte // the last resized frame
	bufSeq      uint64 // its source frame (0: none)

	writeReq chan []byte
	idle     chan struct{} // holds a token while the writer waits for work

	stdinMu sync.Mutex
	stdin   io.WriteCloser // of the current ffmpeg process; nil between processes

	sent, dropped atomic.Uint64
	lastFrameAt   atomic.Int64 // unix microseconds of the last frame written
}

func newPump(t model.Target, arb *arbiter.Arbiter) *pump {
	p := &pump{
		target:      t,
		arb:         arb,
		resizer:     frame.NewResizer(t.Width, t.Height),
		placeholder: frame.Placeholder(t.Width, t.Height, t.Placeholder),
		buf:         make([]byte, t.Width*t.Height*3),
		writeReq:    make(chan []byte),
		idle:        make(chan struct{}, 1),
	}
	p.idle <- struct{}{}
	return p
}

// setStdin gives the pump the stdin of a newly started ffmpeg.
func (p *pump) setStdin(w io.WriteCloser) {
	p.stdinMu.Lock()
	p.stdin = w
	p.stdinMu.Unlock()
}

func (p *pump) currentStdin() io.WriteCloser {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	return p.stdin
}

// run paces frames until ctx ends.
func (p *pump) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { p.write(ctx) })
	defer wg.Wait()

	fps := int64(p.target.FPS)
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
		p.tick(ctx)
	}
}

func (p *pump) tick(ctx context.Context) {
	select {
	case <-p.idle:
	default:
		p.dropped.Add(1) // ffmpeg has not taken the previous frame yet
		return
	}
	data := p.frameBytes()
	select {
	case p.writeReq <- data:
	case <-ctx.Done():
	}
}

// frameBytes returns the bytes to send now. Frames already at the output
// size (and the placeholder) are sent as they are, since they never change;
// others are resized once into buf and reused while they stay selected.
func (p *pump) frameBytes() []byte {
	sel := p.arb.Select(p.target.TransmissionID)
	src := sel.Frame
	if src == nil {
		src = p.placeholder
	}
	if src.Width == p.target.Width && src.Height == p.target.Height {
		return src.Data
	}
	if sel.Seq != p.bufSeq {
		p.resizer.Contain(p.buf, src)
		p.bufSeq = sel.Seq
	}
	return p.buf
}

// write writes handed-over frames to the current ffmpeg, one at a time.
func (p *pump) write(ctx context.Context) {
	for {
		var data []byte
		select {
		case <-ctx.Done():
			return
		case data = <-p.writeReq:
		}
		if w := p.currentStdin(); w == nil {
			p.dropped.Add(1)
		} else if _, err := w.Write(data); err != nil {
			p.dropped.Add(1) // ffmpeg went away; the supervisor starts a new one
		} else {
			p.sent.Add(1)
			p.lastFrameAt.Store(time.Now().UnixMicro())
		}
		p.idle <- struct{}{}
	}
}

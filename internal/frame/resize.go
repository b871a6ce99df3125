package frame

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Fit returns where a srcW x srcH image goes inside a dstW x dstH one when
// scaled to fit with its aspect ratio kept and centred: the content
// rectangle's offset (x, y) and size (w, h).
//
// With a = srcW/srcH and A = dstW/dstH: if a >= A, w = dstW and
// h = round(dstW/a), else h = dstH and w = round(dstH*a), rounding half to
// even; each is clamped to [1, target]; x = (dstW-w)/2, y = (dstH-h)/2.
func Fit(srcW, srcH, dstW, dstH int) (x, y, w, h int) {
	a := float64(srcW) / float64(srcH)
	A := float64(dstW) / float64(dstH)
	if a >= A {
		w = dstW
		h = int(math.RoundToEven(float64(dstW) / a))
	} else {
		h = dstH
		w = int(math.RoundToEven(float64(dstH) * a))
	}
	w = min(max(w, 1), dstW)
	h = min(max(h, 1), dstH)
	return (dstW - w) / 2, (dstH - h) / 2, w, h
}

// Fixed-point formats of the resampler.
//
// The vertical pass runs first, one output row at a time: it blends the
// source rows of that output row into an intermediate row of uint16 holding
// value<<tBits. The horizontal pass then blends intermediate samples into
// the output bytes. Weights of every output sample sum exactly to one in
// their fixed-point format, so a flat colour comes out exactly unchanged.
//
// Precision: the two-tap vertical pass uses 8-bit weights, off by at most
// 1/512 each, which moves the intermediate value by less than 0.5; the
// other roundings add a few hundredths. The total error stays below 1
// before the final rounding, so every output byte is within ±1 of the
// exact filter (TestContainMatchesReference checks it).
const (
	tBits  = 8  // fractional bits of the intermediate row
	wBits  = 14 // weights of the horizontal pass and of the general vertical pass
	w8Bits = 8  // weights of the two-tap vertical pass (SWAR, 4 lanes of 16 bits)
)

// axis is the resampling of one axis from n source samples to m output
// samples: output i blends source samples start[i] .. start[i]+k-1 with
// weights w[k*i : k*i+k] (sum 1<<wBits). When k == 2, w8 holds the same
// weights at w8Bits precision.
type axis struct {
	n, m  int
	k     int
	start []int32
	w     []int32
	w8    []int32
}

// newAxis builds the tap table of one axis. Per axis:
//   - m == n: identity, one tap;
//   - m < n (shrink): area average (box filter), output i covers the source
//     interval [i*n/m, (i+1)*n/m) and each source sample weighs by its
//     overlap with it;
//   - m > n (enlarge): bilinear, output i samples the source at
//     (i+0.5)*n/m - 0.5 (pixel centres aligned), clamped to the edges.
//
// The axes are independent, so a mixed case (say narrower but taller)
// would average along the shrinking axis and interpolate along the growing
// one.
func newAxis(n, m int) axis {
	type taps struct {
		start int
		f     []float64
	}
	ts := make([]taps, m)
	k := 1
	switch {
	case m == n:
		for i := range ts {
			ts[i] = taps{i, []float64{1}}
		}
	case m < n:
		for i := range ts {
			lo, hi := i*n, (i+1)*n // in units of 1/m source sample
			j0, j1 := lo/m, (hi-1)/m
			f := make([]float64, j1-j0+1)
			for j := j0; j <= j1; j++ {
				f[j-j0] = float64(min(hi, (j+1)*m)-max(lo, j*m)) / float64(n)
			}
			ts[i] = taps{j0, f}
			k = max(k, len(f))
		}
	case n == 1:
		for i := range ts {
			ts[i] = taps{0, []float64{1}}
		}
	default:
		k = 2
		for i := range ts {
			x := (float64(i)+0.5)*float64(n)/float64(m) - 0.5
			x = max(x, 0)
			j := int(x)
			if j >= n-1 {
				ts[i] = taps{n - 2, []float64{0, 1}}
				continue
			}
			fr := x - float64(j)
			ts[i] = taps{j, []float64{1 - fr, fr}}
		}
	}
	a := axis{n: n, m: m, k: k, start: make([]int32, m), w: make([]int32, k*m)}
	if k == 2 {
		a.w8 = make([]int32, 2*m)
	}
	f := make([]float64, k)
	for i, t := range ts {
		// Pad to k taps, keeping every tap inside the source.
		s := min(t.start, n-k)
		clear(f)
		copy(f[t.start-s:], t.f)
		a.start[i] = int32(s)
		quantize(a.w[k*i:k*i+k], f, 1<<wBits)
		if k == 2 {
			quantize(a.w8[2*i:2*i+2], f, 1<<w8Bits)
		}
	}
	return a
}

// quantize sets q to the weights f (summing to 1) scaled to total, rounded
// by largest remainder so that they sum to exactly total.
func quantize(q []int32, f []float64, total int) {
	sum := 0
	for i, v := range f {
		q[i] = int32(v * float64(total))
		sum += int(q[i])
	}
	for ; sum < total; sum++ {
		best, rem := 0, math.Inf(-1)
		for i, v := range f {
			if r := v*float64(total) - float64(q[i]); r > rem {
				best, rem = i, r
			}
		}
		q[best]++
	}
	for ; sum > total; sum-- { // only from float error; take from the largest
		best := 0
		for i := range q {
			if q[i] > q[best] {
				best = i
			}
		}
		q[best]--
	}
}

// tap2 is one output pixel of a two-tap horizontal pass: the byte offsets p
// and q of its first source pixel in the intermediate row (see ipos) and its
// two weights.
type tap2 struct{ p, q, w0 uint16 } // w1 = 1<<wBits - w0

// plan is everything Contain needs for one source size.
type plan struct {
	sw, sh     int
	x, y, w, h int // content rectangle in the output
	// Halving stages (see halvings), each into bufs[i%2], and the size
	// rw x rh they leave for the resample.
	stages []halving
	bufs   [2][]byte
	rw, rh int
	copy   bool // content size == rw x rh: straight row copies
	box32  bool // exactly 3:2 on both axes, with a SIMD kernel (box32.go)
	box43  bool // exactly 4:3 on both axes, with a SIMD kernel (box43.go)
	ax, ay axis
	h2     []tap2 // ax.k == 2
}

// worker is one goroutine's share of a Contain call: it takes chunks of
// content rows until none is left, with its own intermediate row.
type worker struct {
	tmp *irow
	run func() // built once: spawning it allocates nothing
}

// Resizer converts frames to one target size. It keeps its tap tables
// (rebuilt only when the source size changes) and its scratch rows (64 KiB
// per worker) between calls, so a steady stream of same-size frames costs no
// allocation. Frames are split by rows across up to GOMAXPROCS (as of
// NewResizer) goroutines that live for one call only: Contain returns when
// they are done, nothing keeps running in between and there is nothing to
// close. A Resizer is not safe for concurrent use.
type Resizer struct {
	width, height int
	plan          plan
	planned       bool
	workers       []*worker
	wg            sync.WaitGroup
	// The call in progress, read by the workers: its arguments and the
	// next chunk of rows to render.
	src   *Frame
	dst   []byte
	phase int // index of the halving stage being rendered; len(stages): the resample
	next  atomic.Int32
}

// maxWorkers caps the goroutines of one Contain call.
const maxWorkers = 16

// chunkRows is how many content rows a worker takes at a time (even: the 3:2
// kernel renders rows in pairs). Workers take chunks as they go rather than
// a fixed share, so a core slowed down by other processes does not hold the
// call back.
const chunkRows = 8

// minRowsPerWorker keeps small frames on fewer goroutines, where splitting
// costs more than it saves.
const minRowsPerWorker = 32

// NewResizer returns a Resizer to width x height. It panics when the size is
// out of range (see CheckSize): output sizes come from validated settings.
func NewResizer(width, height int) *Resizer {
	if err := CheckSize(width, height); err != nil {
		panic(fmt.Sprintf("frame.NewResizer: %v", err))
	}
	r := &Resizer{width: width, height: height}
	n := min(max(runtime.GOMAXPROCS(0), 1), maxWorkers)
	for range n {
		w := &worker{tmp: new(irow)}
		w.run = func() {
			defer r.wg.Done()
			r.work(w.tmp)
		}
		r.workers = append(r.workers, w)
	}
	return r
}

// Contain writes src into dst, whose length must be width*height*3 of the
// target: src scaled to fit with the aspect ratio kept (see Fit), centred,
// black padding. Every byte of dst is written.
//
// Each axis is resampled on its own: along an axis that shrinks Contain
// averages areas (box filter), along one that grows it interpolates
// bilinearly (pixel centres aligned, edges clamped), along one that keeps
// its size it copies. A mixed case thus applies each rule to its own axis;
// with the fit rule the two axes never go opposite ways, but rounding can
// leave one axis at its size while the other shrinks or grows by a pixel.
// When src has the target size the result is a straight copy. The result is
// within ±1 of the exact (real-number) filter on every byte, and a flat
// colour stays exactly that colour.
//
// Contain panics when dst has the wrong length or src is not a valid frame
// (Data not Width*Height*3 bytes): programming errors.
func (r *Resizer) Contain(dst []byte, src *Frame) {
	if len(dst) != r.width*r.height*3 {
		panic(fmt.Sprintf("frame.Resizer.Contain: dst has %d bytes, want %d for %dx%d", len(dst), r.width*r.height*3, r.width, r.height))
	}
	if CheckSize(src.Width, src.Height) != nil || len(src.Data) != src.Width*src.Height*3 {
		panic(fmt.Sprintf("frame.Resizer.Contain: invalid source frame %dx%d with %d bytes", src.Width, src.Height, len(src.Data)))
	}
	if src.Width == r.width && src.Height == r.height {
		copy(dst, src.Data)
		return
	}
	if !r.planned || r.plan.sw != src.Width || r.plan.sh != src.Height {
		r.prepare(src.Width, src.Height)
	}
	p := &r.plan
	stride := r.width * 3
	clear(dst[:p.y*stride])
	clear(dst[(p.y+p.h)*stride:])

	r.src, r.dst = src, dst
	for i, st := range p.stages {
		r.run(i, st.h)
	}
	r.run(len(p.stages), p.h)
	r.src, r.dst = nil, nil
}

// run renders the rows of one phase (a halving stage, or the resample into
// dst) across the workers, and waits for them.
func (r *Resizer) run(phase, rows int) {
	n := min(len(r.workers), max(rows/minRowsPerWorker, 1))
	r.phase = phase
	r.next.Store(0)
	r.wg.Add(n - 1)
	for _, w := range r.workers[1:n] {
		go w.run()
	}
	r.work(r.workers[0].tmp)
	r.wg.Wait()
}

// work renders chunks of the phase's rows until none is left.
func (r *Resizer) work(tmp *irow) {
	p := &r.plan
	h := p.h
	if r.phase < len(p.stages) {
		h = p.stages[r.phase].h
	}
	for {
		y0 := int(r.next.Add(1)-1) * chunkRows
		if y0 >= h {
			return
		}
		y1 := min(y0+chunkRows, h)
		if r.phase < len(p.stages) {
			r.halve(tmp, y0, y1)
		} else {
			r.rows(tmp, y0, y1)
		}
	}
}

// halve renders rows [y0, y1) of the current halving stage.
func (r *Resizer) halve(tmp *irow, y0, y1 int) {
	p := &r.plan
	i := r.phase
	st := p.stages[i]
	in, iw := r.src.Data, p.sw
	if i > 0 {
		in, iw = p.bufs[(i-1)%2], p.stages[i-1].w
	}
	out := p.bufs[i%2]
	n := 3 * st.w
	for y := y0; y < y1; y++ {
		halveRow(out[y*n:(y+1)*n], in, iw, y, st, tmp[:])
	}
}

// prepare builds the plan for a source size.
func (r *Resizer) prepare(sw, sh int) {
	x, y, w, h := Fit(sw, sh, r.width, r.height)
	p := plan{sw: sw, sh: sh, x: x, y: y, w: w, h: h}
	p.stages, p.rw, p.rh = halvings(sw, sh, w, h)
	for i, st := range p.stages {
		if n := 3 * st.w * st.h; len(p.bufs[i%2]) < n {
			p.bufs[i%2] = make([]byte, n)
		}
	}
	p.copy = w == p.rw && h == p.rh
	p.box32 = useSIMD && isBox32(p.rw, p.rh, w, h)
	p.box43 = useSIMD && isBox43(p.rw, p.rh, w, h)
	if !p.copy && !p.box32 && !p.box43 {
		p.ax = newAxis(p.rw, w)
		p.ay = newAxis(p.rh, h)
		if p.ax.k == 2 {
			p.h2 = make([]tap2, w)
			for i := range p.h2 {
				pp, qq := ipos(int(p.ax.start[i]), p.rw*3)
				p.h2[i] = tap2{p: uint16(pp), q: uint16(qq), w0: uint16(p.ax.w[2*i])}
			}
		}
	}
	r.plan = p
	r.planned = true
}

// rows renders content rows [y0, y1) (and their side padding) with the
// intermediate row ir.
func (r *Resizer) rows(ir *irow, y0, y1 int) {
	p := &r.plan
	src, dst := r.src.Data, r.dst
	if n := len(p.stages); n > 0 {
		src = p.bufs[(n-1)%2]
	}
	stride := r.width * 3
	sw3 := p.rw * 3
	for y := y0; y < y1; y++ {
		row := dst[(p.y+y)*stride : (p.y+y+1)*stride]
		clear(row[:p.x*3])
		clear(row[(p.x+p.w)*3:])
		out := row[p.x*3 : (p.x+p.w)*3]
		if p.box32 {
			// Rows come in pairs: h is even, and so are chunkRows and
			// thus y0. Row y+1 is padded in the next iteration.
			if y%2 == 0 {
				o1 := dst[(p.y+y+1)*stride+p.x*3 : (p.y+y+1)*stride+(p.x+p.w)*3]
				box32Rows(out, o1, src, sw3, y, ir)
			}
			continue
		}
		if p.box43 {
			box43Row(out, src, sw3, y, ir)
			continue
		}
		if p.copy {
			copy(out, src[y*sw3:(y+1)*sw3])
			continue
		}
		s := int(p.ay.start[y]) * sw3
		tmp := ir[:2*sw3]
		switch k := p.ay.k; k {
		case 1:
			vpass1(tmp, src[s:s+sw3])
		case 2:
			vpass2(tmp, src[s:s+sw3], src[s+sw3:s+2*sw3], uint64(p.ay.w8[2*y]), uint64(p.ay.w8[2*y+1]))
		default:
			vpassN(tmp, src[s:s+k*sw3], sw3, p.ay.w[k*y:k*y+k])
		}
		switch {
		case p.ax.m == p.ax.n:
			hpass1(out, tmp)
		case p.ax.k == 2:
			hpass2(out, ir, p.h2)
		default:
			hpassN(out, tmp, &p.ax)
		}
	}
}

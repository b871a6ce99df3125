package frame

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func TestFit(t *testing.T) {
	tests := []struct {
		sw, sh, dw, dh int
		x, y, w, h     int
	}{
		{1920, 1080, 1280, 720, 0, 0, 1280, 720},     // same aspect: no padding
		{640, 480, 1280, 720, 160, 0, 960, 720},      // pillarbox
		{1080, 1920, 1280, 720, 437, 0, 405, 720},    // portrait: w = 405, x = 875/2
		{100, 100, 1280, 720, 280, 0, 720, 720},      // square
		{1, 1, 1280, 720, 280, 0, 720, 720},          // 1x1 source
		{1280, 720, 1, 1, 0, 0, 1, 1},                // 1x1 target: h = round(0.5625)
		{1920, 1080, 2, 2, 0, 0, 2, 1},               // h = round(1.125), y = 1/2
		{7680, 10, 2, 2, 0, 0, 2, 1},                 // h = round(0.0026) = 0, clamped to 1
		{10, 4320, 3, 3, 1, 0, 1, 3},                 // w clamped to 1, x = (3-1)/2
		{1281, 721, 1280, 720, 0, 0, 1279, 720},      // a just below A: w = round(1279.22)
		{3, 2, 7, 5, 0, 0, 7, 5},                     // h = round(4.67)
		{5, 3, 4, 4, 0, 1, 4, 2},                     // h = round(2.4), y = 1
		{2, 1, 3, 3, 0, 0, 3, 2},                     // h = round(1.5) = 2 (half to even)
		{2, 1, 5, 5, 0, 1, 5, 2},                     // h = round(2.5) = 2 (half to even)
		{1, 2, 5, 5, 1, 0, 2, 5},                     // w = round(2.5) = 2 (half to even)
		{1, 2, 7, 7, 1, 0, 4, 7},                     // w = round(3.5) = 4 (half to even)
		{720, 1280, 720, 1280, 0, 0, 720, 1280},      // same size
		{333, 777, 1280, 720, 485, 0, 309, 720},      // odd: w = round(308.57), x = 971/2
		{4000, 3000, 1920, 1080, 240, 0, 1440, 1080}, // 4:3 into 16:9
		{1080, 1920, 7680, 4320, 2625, 0, 2430, 4320},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d_to_%dx%d", tt.sw, tt.sh, tt.dw, tt.dh), func(t *testing.T) {
			x, y, w, h := Fit(tt.sw, tt.sh, tt.dw, tt.dh)
			if x != tt.x || y != tt.y || w != tt.w || h != tt.h {
				t.Errorf("Fit = (%d,%d %dx%d), want (%d,%d %dx%d)", x, y, w, h, tt.x, tt.y, tt.w, tt.h)
			}
		})
	}
}

// flatFrame returns a w x h frame of one colour.
func flatFrame(t testing.TB, w, h int, b, g, r uint8) *Frame {
	t.Helper()
	data := make([]byte, w*h*3)
	for i := 0; i < len(data); i += 3 {
		data[i], data[i+1], data[i+2] = b, g, r
	}
	f, err := NewBGR(w, h, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// garbage returns a buffer full of non-zero bytes, so a test sees whether
// Contain wrote every byte.
func garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = uint8(i%251) | 1
	}
	return b
}

// checkContent checks that dst (dw x dh) has exactly 0 outside the content
// rectangle that Fit gives and calls inside for every content pixel.
func checkContent(t *testing.T, dst []byte, sw, sh, dw, dh int, inside func(x, y int, px []byte) bool) {
	t.Helper()
	cx, cy, cw, ch := Fit(sw, sh, dw, dh)
	bad := 0
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			px := dst[3*(y*dw+x) : 3*(y*dw+x)+3]
			in := x >= cx && x < cx+cw && y >= cy && y < cy+ch
			switch {
			case !in && (px[0] != 0 || px[1] != 0 || px[2] != 0):
				t.Errorf("padding pixel (%d,%d) = %v, want 0", x, y, px)
				bad++
			case in && !inside(x-cx, y-cy, px):
				t.Errorf("content pixel (%d,%d) = %v", x-cx, y-cy, px)
				bad++
			}
			if bad > 5 {
				t.FailNow()
			}
		}
	}
}

var containSizes = []struct{ sw, sh, dw, dh int }{
	{1920, 1080, 1280, 720}, // shrink 1.5, no padding
	{640, 480, 1280, 720},   // enlarge, pillarbox
	{1080, 1920, 1280, 720}, // shrink 2.67 (more than 2 taps), pillarbox
	{100, 100, 1280, 720},   // enlarge 7.2
	{1, 1, 1280, 720},       // a single pixel
	{1, 1, 1, 1},            // same size, tiny
	{1280, 720, 2, 2},       // tiny target, letterbox
	{3, 3, 2, 2},            // shrink 1.5 tiny
	{7, 5, 3, 3},            // odd
	{333, 777, 641, 359},    // odd sizes, shrink, pillarbox
	{301, 17, 640, 480},     // enlarge 2.1x, letterbox
	{640, 100, 320, 200},    // shrink 2x, letterbox
	{50, 400, 100, 300},     // w = round(37.5) = 38
	{10, 40, 200, 100},      // enlarge: 25x100
	{1281, 721, 1280, 720},  // near-identity sizes
	{1279, 720, 1280, 720},
	{1279, 721, 1280, 720},
	{1281, 720, 1280, 720},
	{1280, 720, 1280, 720}, // same size
	{640, 720, 1280, 720},  // content == source size: copy with padding
	{300, 300, 400, 200},   // 3:2 both ways (box32), pillarbox
	{198, 66, 132, 44},     // 3:2 with SIMD tails on both passes
	{384, 216, 128, 72},    // 2x2 halving, then 3:2
}

func TestContainPaddingWhite(t *testing.T) {
	kernels(t, func(t *testing.T) {
		for _, tt := range containSizes {
			t.Run(fmt.Sprintf("%dx%d_to_%dx%d", tt.sw, tt.sh, tt.dw, tt.dh), func(t *testing.T) {
				src := flatFrame(t, tt.sw, tt.sh, 255, 255, 255)
				dst := garbage(tt.dw * tt.dh * 3)
				NewResizer(tt.dw, tt.dh).Contain(dst, src)
				checkContent(t, dst, tt.sw, tt.sh, tt.dw, tt.dh, func(_, _ int, px []byte) bool {
					return px[0] == 255 && px[1] == 255 && px[2] == 255
				})
			})
		}
	})
}

func TestContainFlatColour(t *testing.T) {
	kernels(t, func(t *testing.T) {
		colours := [][3]uint8{{1, 2, 3}, {127, 127, 127}, {0, 128, 255}, {254, 1, 77}}
		for _, tt := range containSizes {
			for _, c := range colours {
				t.Run(fmt.Sprintf("%dx%d_to_%dx%d_%v", tt.sw, tt.sh, tt.dw, tt.dh, c), func(t *testing.T) {
					src := flatFrame(t, tt.sw, tt.sh, c[0], c[1], c[2])
					dst := garbage(tt.dw * tt.dh * 3)
					NewResizer(tt.dw, tt.dh).Contain(dst, src)
					checkContent(t, dst, tt.sw, tt.sh, tt.dw, tt.dh, func(_, _ int, px []byte) bool {
						return px[0] == c[0] && px[1] == c[1] && px[2] == c[2]
					})
				})
			}
		}
	})
}

// grayFrame builds a frame from gray rows.
func grayFrame(t *testing.T, rows [][]uint8) *Frame {
	t.Helper()
	var data []byte
	for _, r := range rows {
		data = append(data, r...)
	}
	f, err := NewGray(len(rows[0]), len(rows), data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// grayOut returns the B channel of dst as rows (the tests use gray input).
func grayOut(dst []byte, w, h int) [][]uint8 {
	out := make([][]uint8, h)
	for y := range out {
		out[y] = make([]uint8, w)
		for x := range out[y] {
			out[y][x] = dst[3*(y*w+x)]
		}
	}
	return out
}

func TestContainKnownValues(t *testing.T) {
	kernels(t, func(t *testing.T) {
		tests := []struct {
			name   string
			src    [][]uint8
			dw, dh int
			want   [][]uint8
		}{
			{
				// Box filter: each output averages a 2x2 block of two 0 and
				// two 255: 127.5, rounded up.
				name: "checkerboard 4x4 to 2x2",
				src:  [][]uint8{{0, 255, 0, 255}, {255, 0, 255, 0}, {0, 255, 0, 255}, {255, 0, 255, 0}},
				dw:   2, dh: 2,
				want: [][]uint8{{128, 128}, {128, 128}},
			},
			{
				// Box filter, 2x per axis: plain block means.
				name: "blocks 4x2 to 2x1",
				src:  [][]uint8{{10, 20, 100, 200}, {30, 40, 0, 0}},
				dw:   2, dh: 1,
				want: [][]uint8{{25, 75}},
			},
			{
				// Box filter, 1.5x: output 0 covers pixel 0 and half of
				// pixel 1: (0*1 + 90*0.5)/1.5 = 30; output 1: (90*0.5 +
				// 210*1)/1.5 = 170.
				name: "area 3 to 2",
				src:  [][]uint8{{0, 90, 210}},
				dw:   2, dh: 1,
				want: [][]uint8{{30, 170}},
			},
			{
				// Bilinear with pixel centres aligned: outputs sample the
				// source at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped
				// to 1): 0, 63.75, 191.25, 255.
				name: "bilinear 2x2 to 4x4 horizontal ramp",
				src:  [][]uint8{{0, 255}, {0, 255}},
				dw:   4, dh: 4,
				want: [][]uint8{{0, 64, 191, 255}, {0, 64, 191, 255}, {0, 64, 191, 255}, {0, 64, 191, 255}},
			},
			{
				// Both axes: value(x,y) = 255*fx*fy with f = 0, .25, .75, 1.
				name: "bilinear 2x2 to 4x4 corner",
				src:  [][]uint8{{0, 0}, {0, 255}},
				dw:   4, dh: 4,
				want: [][]uint8{{0, 0, 0, 0}, {0, 16, 48, 64}, {0, 48, 143, 191}, {0, 64, 191, 255}},
			},
			{
				name: "box 4x2 to 2x1",
				src:  [][]uint8{{0, 100, 200, 40}, {10, 110, 210, 50}},
				dw:   2, dh: 1,
				want: [][]uint8{{55, 125}},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				src := grayFrame(t, tt.src)
				dst := garbage(tt.dw * tt.dh * 3)
				NewResizer(tt.dw, tt.dh).Contain(dst, src)
				got := grayOut(dst, tt.dw, tt.dh)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	})
}

// refAxisWeights is the obviously-correct float definition of one axis:
// the weight of source sample j for output i.
func refAxisWeights(n, m int) [][]float64 {
	w := make([][]float64, m)
	for i := range w {
		w[i] = make([]float64, n)
		switch {
		case m == n:
			w[i][i] = 1
		case m < n: // area: overlap of [i*s, (i+1)*s) with [j, j+1), over s
			s := float64(n) / float64(m)
			lo, hi := float64(i)*s, float64(i+1)*s
			for j := range n {
				if ov := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j)); ov > 0 {
					w[i][j] = ov / s
				}
			}
		default: // bilinear, centres aligned, clamped
			x := (float64(i)+0.5)*float64(n)/float64(m) - 0.5
			x = math.Min(math.Max(x, 0), float64(n-1))
			j := int(math.Floor(x))
			f := x - float64(j)
			w[i][j] += 1 - f
			if f > 0 {
				w[i][j+1] += f
			}
		}
	}
	return w
}

// refHalve is one halving stage done the obvious way: the mean of the
// pixel pairs along the halved axes, rounded as halve.go says.
func refHalve(src *Frame, st halving) *Frame {
	out := &Frame{Width: st.w, Height: st.h, Data: make([]byte, st.w*st.h*3)}
	fx, fy := 1, 1
	if st.hx {
		fx = 2
	}
	if st.hy {
		fy = 2
	}
	at := func(x, y, c int) int { return int(src.Data[3*(y*src.Width+x)+c]) }
	for y := range st.h {
		for x := range st.w {
			for c := range 3 {
				var v int
				switch {
				case st.hx && st.hy: // rows rounding up, then pixels rounding down
					v = ((at(2*x, 2*y, c)+at(2*x, 2*y+1, c)+1)/2 + (at(2*x+1, 2*y, c)+at(2*x+1, 2*y+1, c)+1)/2) / 2
				default:
					v = (at(fx*x, fy*y, c) + at(fx*x+fx-1, fy*y+fy-1, c) + 1) / 2
				}
				out.Data[3*(y*st.w+x)+c] = uint8(v)
			}
		}
	}
	return out
}

// refContain is a slow reference of Contain: the halving stages, then the
// float filter.
func refContain(src *Frame, dw, dh int) []byte {
	_, _, cw, ch := Fit(src.Width, src.Height, dw, dh)
	stages, _, _ := halvings(src.Width, src.Height, cw, ch)
	h := src
	for _, st := range stages {
		h = refHalve(h, st)
	}
	return refArea(src, h, dw, dh)
}

// refArea is the float filter of Contain from src (or the frame it was
// halved to, h) into the content rectangle of src in dw x dh.
func refArea(src, h *Frame, dw, dh int) []byte {
	dst := make([]byte, dw*dh*3)
	cx, cy, cw, ch := Fit(src.Width, src.Height, dw, dh)
	src = h
	wx := refAxisWeights(src.Width, cw)
	wy := refAxisWeights(src.Height, ch)
	for y := range ch {
		for x := range cw {
			for c := range 3 {
				sum := 0.0
				for j, a := range wy[y] {
					if a == 0 {
						continue
					}
					for i, b := range wx[x] {
						if b != 0 {
							sum += a * b * float64(src.Data[3*(j*src.Width+i)+c])
						}
					}
				}
				dst[3*((cy+y)*dw+cx+x)+c] = uint8(math.Round(sum))
			}
		}
	}
	return dst
}

func randomFrame(t testing.TB, rng *rand.Rand, w, h int) *Frame {
	data := make([]byte, w*h*3)
	for i := range data {
		data[i] = uint8(rng.IntN(256))
	}
	f, err := NewBGR(w, h, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestContainMatchesReference(t *testing.T) {
	kernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		sizes := []struct{ sw, sh, dw, dh int }{
			{192, 108, 128, 72},  // 1.5x, two taps
			{96, 54, 128, 72},    // enlarge
			{108, 192, 128, 72},  // 2.67x, more taps
			{64, 48, 128, 72},    // enlarge, pillarbox
			{333, 201, 97, 61},   // odd, ~3.4x
			{31, 17, 30, 16},     // barely shrinking: up to 3 taps at ratio < 2
			{50, 400, 100, 300},  // 8x
			{40, 10, 30, 20},     // letterbox
			{13, 7, 40, 9},       // enlarge, letterbox
			{2, 300, 50, 40},     // 2 columns
			{500, 3, 40, 50},     // letterbox, 3 rows
			{1, 50, 20, 20},      // single column
			{50, 1, 20, 20},      // single row
			{1920, 1080, 64, 36}, // 30x
			{129, 72, 128, 72},   // near-identity sizes
			{128, 73, 128, 72},
			{127, 72, 128, 72},
			{65, 36, 128, 72},
			{640, 100, 320, 200}, // halved to the content size: a copy after halving
			{256, 64, 60, 40},    // halved twice each way
			{258, 40, 60, 40},    // halved across only
			{60, 202, 20, 60},    // halved down only
			{216, 384, 256, 144}, // halved to 108x192, then 4:3
			{400, 300, 300, 225}, // 4:3
		}
		for _, tt := range sizes {
			t.Run(fmt.Sprintf("%dx%d_to_%dx%d", tt.sw, tt.sh, tt.dw, tt.dh), func(t *testing.T) {
				src := randomFrame(t, rng, tt.sw, tt.sh)
				want := refContain(src, tt.dw, tt.dh)
				got := garbage(tt.dw * tt.dh * 3)
				NewResizer(tt.dw, tt.dh).Contain(got, src)
				maxDiff, diffs := 0, 0
				for i := range want {
					d := int(got[i]) - int(want[i])
					if d < 0 {
						d = -d
					}
					if d > 0 {
						diffs++
					}
					maxDiff = max(maxDiff, d)
				}
				if maxDiff > 1 {
					t.Errorf("max difference to the reference %d, want <= 1", maxDiff)
				}
				t.Logf("%d of %d bytes differ by 1", diffs, len(want))
			})
		}
	})
}

// On natural-looking content (gradients, hard edges, a little noise),
// halving before the area filter stays close to the exact area filter.
func TestContainNearArea(t *testing.T) {
	for _, sz := range []struct{ sw, sh, dw, dh int }{
		{1080, 1920, 1280, 720}, // portrait: 2x2 halving, then 1.33x
		{1920, 1080, 640, 360},  // 3x: halving, then 1.5x
		{1000, 200, 320, 180},   // 3.1x across, 1.1x down
		{1920, 1080, 64, 36},    // 30x: halvings down to an odd 135 rows
	} {
		t.Run(fmt.Sprintf("%dx%d_to_%dx%d", sz.sw, sz.sh, sz.dw, sz.dh), func(t *testing.T) {
			src := testImage(t, sz.sw, sz.sh)
			got := make([]byte, sz.dw*sz.dh*3)
			NewResizer(sz.dw, sz.dh).Contain(got, src)
			want := refArea(src, src, sz.dw, sz.dh)
			sum, worst := 0, 0
			for i := range want {
				d := int(got[i]) - int(want[i])
				sum += max(d, -d)
				worst = max(worst, d, -d)
			}
			mean := float64(sum) / float64(len(want))
			t.Logf("mean difference %.3f, max %d", mean, worst)
			// Halving widens the filter a little: at a hard black/white
			// edge an output pixel can take up to a quarter more of the
			// other side.
			if mean > 1 || worst > 64 {
				t.Errorf("mean difference to the area filter %.3f (want <= 1), max %d (want <= 64)", mean, worst)
			}
		})
	}
}

func TestContainSameSizeCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][2]int{{1280, 720}, {1, 1}, {7, 3}} {
		src := randomFrame(t, rng, sz[0], sz[1])
		dst := garbage(len(src.Data))
		NewResizer(sz[0], sz[1]).Contain(dst, src)
		if !bytes.Equal(dst, src.Data) {
			t.Errorf("%v: not a byte-identical copy", sz)
		}
	}
}

// A Resizer reused across source sizes gives what fresh ones give.
func TestResizerReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := NewResizer(320, 180)
	for _, sz := range [][2]int{{640, 360}, {100, 100}, {640, 360}, {320, 180}, {1000, 200}, {100, 100}} {
		src := randomFrame(t, rng, sz[0], sz[1])
		got := garbage(320 * 180 * 3)
		want := make([]byte, 320*180*3)
		r.Contain(got, src)
		NewResizer(320, 180).Contain(want, src)
		if !bytes.Equal(got, want) {
			t.Errorf("source %v: reused Resizer differs from a fresh one", sz)
		}
		if !bytes.Equal(got, refOrCopy(src, 320, 180)) && sz != [2]int{320, 180} {
			// Checked in detail by TestContainMatchesReference; here
			// only that the output is in the ±1 band.
			if d := maxAbsDiff(got, refContain(src, 320, 180)); d > 1 {
				t.Errorf("source %v: max difference to the reference %d", sz, d)
			}
		}
	}
}

func refOrCopy(src *Frame, w, h int) []byte {
	if src.Width == w && src.Height == h {
		return src.Data
	}
	return refContain(src, w, h)
}

func maxAbsDiff(a, b []byte) int {
	m := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		m = max(m, d, -d)
	}
	return m
}

func TestContainPanicsOnWrongDst(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short dst")
		}
	}()
	NewResizer(4, 4).Contain(make([]byte, 4*4*3-1), flatFrame(t, 2, 2, 0, 0, 0))
}

func TestContainPanicsOnBadSource(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short source")
		}
	}()
	NewResizer(4, 4).Contain(make([]byte, 4*4*3), &Frame{Width: 2, Height: 2, Data: make([]byte, 11)})
}

func TestNewResizerPanicsOnBadSize(t *testing.T) {
	for _, sz := range [][2]int{{0, 1}, {1, 0}, {MaxWidth + 1, 1}, {1, MaxHeight + 1}, {-1, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: no panic", sz)
				}
			}()
			NewResizer(sz[0], sz[1])
		}()
	}
}

func TestContainZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	land, port := testImage(t, 1920, 1080), testImage(t, 1080, 1920)
	for _, tt := range []struct {
		src  *Frame
		w, h int
	}{{land, 1280, 720}, {land, 640, 360}, {land, 1920, 1080}, {port, 1280, 720}} {
		r := NewResizer(tt.w, tt.h)
		dst := make([]byte, tt.w*tt.h*3)
		r.Contain(dst, tt.src)
		if n := testing.AllocsPerRun(20, func() { r.Contain(dst, tt.src) }); n != 0 {
			t.Errorf("%dx%d -> %dx%d: %v allocations per Contain, want 0", tt.src.Width, tt.src.Height, tt.w, tt.h, n)
		}
	}
}

// Contain leaves no goroutine behind.
func TestContainNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	src := testImage(t, 640, 480)
	r := NewResizer(1280, 720)
	dst := make([]byte, 1280*720*3)
	for range 10 {
		r.Contain(dst, src)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Contain, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

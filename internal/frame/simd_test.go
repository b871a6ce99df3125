package frame

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// kernels runs f with the SIMD kernels (where the CPU has them) and with
// the portable code.
func kernels(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, simd := range []bool{true, false} {
		if simd && !hasSIMD {
			continue
		}
		name := "generic"
		if simd {
			name = "simd"
		}
		t.Run(name, func(t *testing.T) {
			old := useSIMD
			useSIMD = simd
			t.Cleanup(func() { useSIMD = old })
			f(t)
		})
	}
}

// 1080p -> 720p takes the 3:2 kernel and portrait 1080x1920 -> 1280x720
// the 4:3 one (after halving) where the CPU has their SIMD versions, and
// only exact 3:2 or 4:3 resamples do.
func TestContainChoosesKernel(t *testing.T) {
	if !hasSIMD {
		t.Skip("no SIMD kernels on this CPU")
	}
	for _, tt := range []struct {
		sw, sh, dw, dh int
		box32, box43   bool
	}{
		{1920, 1080, 1280, 720, true, false},
		{3840, 2160, 1280, 720, true, false}, // halved to 1920x1080 first
		{1080, 1920, 1280, 720, false, true}, // halved to 540x960, content 405x720
		{400, 300, 300, 225, false, true},    // not halved
		{1921, 1080, 1280, 720, false, false},
		{1920, 1080, 1278, 720, false, false}, // content 1278x719
		{1082, 1920, 1280, 720, false, false}, // halved to 541x960, content 406x720
		{1280, 720, 1920, 1080, false, false},
	} {
		r := NewResizer(tt.dw, tt.dh)
		r.Contain(make([]byte, tt.dw*tt.dh*3), flatFrame(t, tt.sw, tt.sh, 1, 2, 3))
		if r.plan.box32 != tt.box32 || r.plan.box43 != tt.box43 {
			t.Errorf("%dx%d -> %dx%d: box32, box43 = %v, %v, want %v, %v", tt.sw, tt.sh, tt.dw, tt.dh, r.plan.box32, r.plan.box43, tt.box32, tt.box43)
		}
	}
}

// checkBox32 runs both passes of the 3:2 kernel on in (groups 3-pixel
// groups of one row, three rows) and compares them with the scalar loops.
func checkBox32(t *testing.T, groups int, rows []byte) {
	t.Helper()
	n := 9 * groups
	r0, r1, r2 := rows[:n], rows[n:2*n], rows[2*n:3*n]
	got, want := make([]byte, 2*n), make([]byte, 2*n)
	vbox32(got[:n], got[n:], r0, r1, r2)
	vbox32Go(want[:n], want[n:], r0, r1, r2, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("%d groups: vertical pass differs from the scalar one at byte %d", groups, firstDiff(got, want))
	}
	// The horizontal pass, on a row alone and on a row followed by more
	// bytes (which the SIMD loop may read but must not use).
	for _, in := range [][]byte{r0, rows[:n+2]} {
		gotH, wantH := make([]byte, 6*groups), make([]byte, 6*groups)
		hbox32(gotH, in)
		hbox32Go(wantH, in, 0)
		if !bytes.Equal(gotH, wantH) {
			t.Fatalf("%d groups, input of %d bytes: horizontal pass differs from the scalar one at byte %d", groups, len(in), firstDiff(gotH, wantH))
		}
	}
}

// fills names the contents fillRows gives kernel tests: random bytes, the
// extremes, hard edges, and small values whose sums leave every remainder.
var fills = []string{"random", "zero", "max", "edges", "small"}

func fillRows(rows []byte, fill string, rng *rand.Rand) {
	for i := range rows {
		switch fill {
		case "random":
			rows[i] = uint8(rng.IntN(256))
		case "zero":
			rows[i] = 0
		case "max":
			rows[i] = 255
		case "edges":
			rows[i] = uint8(255 * (i / 5 % 2))
		default:
			rows[i] = uint8(i % 4)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// The SIMD passes give exactly what the scalar loops give, at widths
// around their block sizes (32 bytes down, 16 groups across) and with
// extreme values.
func TestBox32MatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, g := range []int{1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 48, 100, 427, 640, 2560} {
		rows := make([]byte, 27*g+2)
		for _, fill := range fills {
			t.Run(fmt.Sprintf("%d_groups_%s", g, fill), func(t *testing.T) {
				fillRows(rows, fill, rng)
				checkBox32(t, g, rows)
			})
		}
	}
}

func FuzzBox32(f *testing.F) {
	f.Add([]byte{0, 90, 210, 1, 2, 3, 255, 254, 253})
	f.Add(bytes.Repeat([]byte{255, 0, 128}, 9*40))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := (len(data) - 2) / 27
		if g < 1 {
			return
		}
		checkBox32(t, g, data)
	})
}

// checkBox43 runs both passes of the 4:3 kernel on rows (three rows of
// groups 4-pixel groups) and compares them with the scalar loops.
func checkBox43(t *testing.T, groups int, rows []byte) {
	t.Helper()
	n := 12 * groups
	x, y, z := rows[:n], rows[n:2*n], rows[2*n:3*n]
	got, want := make([]byte, n), make([]byte, n)
	vbox43(got, x, y, z)
	vbox43Go(want, x, y, z, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("%d groups: vertical pass differs from the scalar one at byte %d", groups, firstDiff(got, want))
	}
	gotH, wantH := make([]byte, 9*groups), make([]byte, 9*groups)
	hbox43(gotH, x)
	hbox43Go(wantH, x, 0)
	if !bytes.Equal(gotH, wantH) {
		t.Fatalf("%d groups: horizontal pass differs from the scalar one at byte %d", groups, firstDiff(gotH, wantH))
	}
}

// The SIMD passes of the 4:3 kernel give exactly what the scalar loops
// give, at widths around their block sizes (32 bytes down, 16 groups
// across) and with extreme values.
func TestBox43MatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, g := range []int{1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 101, 135, 320, 2560} {
		rows := make([]byte, 36*g)
		for _, fill := range fills {
			t.Run(fmt.Sprintf("%d_groups_%s", g, fill), func(t *testing.T) {
				fillRows(rows, fill, rng)
				checkBox43(t, g, rows)
			})
		}
	}
}

func FuzzBox43(f *testing.F) {
	f.Add([]byte{0, 90, 210, 1, 2, 3, 255, 254, 253, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{255, 0, 128, 1}, 9*50))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := len(data) / 36
		if g < 1 {
			return
		}
		checkBox43(t, g, data)
	})
}

// The SIMD row means of the halving give exactly what the portable loop
// gives.
func TestHalveRowsSIMD(t *testing.T) {
	if !hasSIMD {
		t.Skip("no SIMD kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 8, 31, 32, 33, 64, 100, 3240, 5760} {
		r0, r1 := make([]byte, n), make([]byte, n)
		for i := range n {
			r0[i], r1[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		}
		r0[0], r1[0] = 255, 254 // (255+254+1)/2 = 255: no overflow
		got, want := make([]byte, n), make([]byte, n)
		halveRows(got, r0, r1)
		useSIMD = false
		halveRows(want, r0, r1)
		useSIMD = true
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: SIMD differs at byte %d", n, firstDiff(got, want))
		}
	}
}

// checkHalvePixels compares the SIMD pixel-pair means of src (whole pixel
// pairs) with the portable loop, rounding both ways, and checks that the
// SIMD loop writes nothing past dst (the next row, another worker's).
func checkHalvePixels(t *testing.T, src []byte) {
	t.Helper()
	w := len(src) / 6
	src = src[:6*w]
	for _, up := range []bool{true, false} {
		buf := bytes.Repeat([]byte{0xa5}, 3*w+32)
		got, want := buf[:3*w], make([]byte, 3*w)
		halvePixels(got, src, up)
		useSIMD = false
		halvePixels(want, src, up)
		useSIMD = true
		if !bytes.Equal(got, want) {
			t.Fatalf("%d pixels, up %v: SIMD differs at byte %d", w, up, firstDiff(got, want))
		}
		if tail := buf[3*w:]; !bytes.Equal(tail, bytes.Repeat([]byte{0xa5}, len(tail))) {
			t.Fatalf("%d pixels, up %v: SIMD wrote past the row", w, up)
		}
	}
}

// The SIMD pixel-pair means of the halving give exactly what the portable
// loop gives, at every width around the block size (6 pixels) and with
// extreme values.
func TestHalvePixelsSIMD(t *testing.T) {
	if !hasSIMD {
		t.Skip("no SIMD kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	widths := []int{540, 960, 1920}
	for w := 1; w <= 80; w++ {
		widths = append(widths, w)
	}
	for _, w := range widths {
		src := make([]byte, 6*w)
		for _, fill := range []func(i int) byte{
			func(int) byte { return uint8(rng.IntN(256)) },
			func(int) byte { return 255 },
			func(i int) byte { return uint8(255 * (i / 3 % 2)) }, // pixels alternate black, white
			func(i int) byte { return uint8(i % 2) },             // odd sums in every byte
		} {
			for i := range src {
				src[i] = fill(i)
			}
			checkHalvePixels(t, src)
		}
	}
}

func FuzzHalvePixels(f *testing.F) {
	f.Add([]byte{0, 1, 2, 255, 254, 253})
	f.Add(bytes.Repeat([]byte{255, 0, 1, 0, 255, 2}, 41))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !hasSIMD {
			t.Skip("no SIMD kernels on this CPU")
		}
		checkHalvePixels(t, data)
	})
}

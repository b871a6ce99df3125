package frame

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// testImage returns a realistic, non-uniform w x h BGR frame: smooth
// gradients with a few sharp edges and some deterministic noise.
func testImage(tb testing.TB, w, h int) *Frame {
	tb.Helper()
	data := make([]byte, w*h*3)
	seed := uint32(12345)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			seed = seed*1664525 + 1013904223
			noise := int(seed>>28) - 8
			i := 3 * (y*w + x)
			b := x * 255 / w
			g := y * 255 / h
			r := (x + y) * 255 / (w + h)
			if (x/97+y/61)%2 == 0 {
				r = 255 - r
			}
			data[i] = clamp8(b + noise)
			data[i+1] = clamp8(g - noise)
			data[i+2] = clamp8(r + noise/2)
		}
	}
	f, err := NewBGR(w, h, data)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func clamp8(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// reportCPU adds the process's CPU time per op since start (cpuNanos) to
// the benchmark's figures as cpu-ns/op. With -cpu 1 the work runs on one
// core, so on a loaded machine this is the steadier figure; ns/op also
// counts the time spent waiting for a core.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
}

func benchContain(b *testing.B, sw, sh, dw, dh int) {
	src := testImage(b, sw, sh)
	r := NewResizer(dw, dh)
	dst := make([]byte, dw*dh*3)
	r.Contain(dst, src) // build the plan outside the timing
	b.SetBytes(int64(dw * dh * 3))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuNanos()
	for b.Loop() {
		r.Contain(dst, src)
	}
	reportCPU(b, start)
}

func BenchmarkContain1080pTo720p(b *testing.B)    { benchContain(b, 1920, 1080, 1280, 720) }
func BenchmarkContainVGATo720p(b *testing.B)      { benchContain(b, 640, 480, 1280, 720) }
func BenchmarkContainSameSize720p(b *testing.B)   { benchContain(b, 1280, 720, 1280, 720) }
func BenchmarkContainPortraitTo720p(b *testing.B) { benchContain(b, 1080, 1920, 1280, 720) } // 2x2 halving, then 4:3

// testJPEG720p is testImage at 1280x720 as a q85 4:2:0 JPEG.
func testJPEG720p(b *testing.B) []byte {
	f := testImage(b, 1280, 720)
	img := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	for i := 0; i < 1280*720; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = f.Data[3*i+2], f.Data[3*i+1], f.Data[3*i], 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeJPEG720p is the ingest's decode: header check, a new
// frame, the pixels (JPEGDecoder of this build).
func BenchmarkDecodeJPEG720p(b *testing.B) {
	body := testJPEG720p(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuNanos()
	for b.Loop() {
		if _, err := Decode("image/jpeg", body); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkDecodePNG compares this package's PNG decoder with what it
// replaced (image/png, then FromImage) on a 1920x1080 frame.
func BenchmarkDecodePNG(b *testing.B) {
	src := testImage(b, 1920, 1080)
	for _, tc := range []struct {
		name             string
		colorType, depth int
	}{{"rgb8", pngRGB, 8}, {"rgba8", pngRGBA, 8}, {"rgba16", pngRGBA, 16}} {
		s := pngSpec{pngHeader: pngHeader{width: src.Width, height: src.Height, depth: tc.depth, colorType: tc.colorType}}
		s.filter = func(y int) byte { return byte(y % 5) }
		s.row = func(_, y, w int, dst []byte) {
			n := s.channels() * tc.depth / 8
			for x := range w {
				for c := range n {
					dst[x*n+c] = src.Data[3*(y*w+x)+c%3]
				}
			}
		}
		body := writePNG(b, s)
		for _, d := range []struct {
			name string
			fn   func([]byte) (*Frame, error)
		}{{"ours", decodePNG}, {"image-png", stdFrame}} {
			b.Run(tc.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(src.Data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := d.fn(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

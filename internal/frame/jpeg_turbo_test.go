//go:build turbojpeg

package frame

import (
	"bytes"
	"image"
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame/turbojpeg"
)

// bgrImage is f as an image for the JPEG encoder.
func bgrImage(f *Frame) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for i := 0; i < f.Width*f.Height; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = f.Data[3*i+2], f.Data[3*i+1], f.Data[3*i], 255
	}
	return img
}

// libjpeg-turbo decodes colour (4:2:0) and gray JPEGs itself, to the picture
// image/jpeg gives within the rounding of their IDCTs
// and colour conversions.
func TestTurboDecodesLikeTheStandardDecoder(t *testing.T) {
	src := testImage(t, 1280, 720)
	gray := image.NewGray(image.Rect(0, 0, 333, 77))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	for name, body := range map[string][]byte{"colour 720p": encodeJPEG(t, bgrImage(src)), "gray 333x77": encodeJPEG(t, gray)} {
		t.Run(name, func(t *testing.T) {
			want, err := decodeStdJPEG(body)
			if err != nil {
				t.Fatal(err)
			}
			got := &Frame{Width: want.Width, Height: want.Height, Data: make([]byte, len(want.Data))}
			if err := turbojpeg.DecodeBGR(got.Data, body, got.Width, got.Height); err != nil {
				t.Fatalf("libjpeg-turbo refused it: %v", err)
			}
			worst, sum := 0, 0
			for i := range got.Data {
				d := abs(int(got.Data[i]) - int(want.Data[i]))
				worst, sum = max(worst, d), sum+d
			}
			// The two differ in IDCT and colour-conversion rounding only.
			if mean := float64(sum) / float64(len(got.Data)); worst > 4 || mean > 0.5 {
				t.Errorf("bytes differ from image/jpeg's by up to %d, %.2f on average", worst, mean)
			}
			t.Logf("bytes differ from image/jpeg's by up to %d, %.3f on average", worst, float64(sum)/float64(len(got.Data)))
		})
	}
}

// Extraneous bytes between two marker segments are a warning to
// libjpeg-turbo (which then stops) and silently skipped by image/jpeg:
// Decode falls back to image/jpeg, so such a frame is still read.
func TestTurboWarningFallsBackToTheStandardDecoder(t *testing.T) {
	body := encodeJPEG(t, colourImage())
	// After SOI (2 bytes) comes the first segment, DQT: skip it.
	n := 2 + 2 + int(body[4])<<8 | int(body[5])
	junk := append(append(append([]byte{}, body[:n]...), 0x12, 0x34), body[n:]...)
	want, err := decodeStdJPEG(junk)
	if err != nil {
		t.Fatalf("image/jpeg refused the junk too: %v", err)
	}
	probe := &Frame{Width: want.Width, Height: want.Height, Data: make([]byte, len(want.Data))}
	if err := turbojpeg.DecodeBGR(probe.Data, junk, probe.Width, probe.Height); err == nil {
		t.Fatal("libjpeg-turbo did not stop at the warning: the fallback is not tested")
	}
	got, err := Decode("image/jpeg", junk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Error("the fallback's frame differs from image/jpeg's")
	}
}

// BenchmarkTurboDecodeBGR720p is libjpeg-turbo's decode alone, into a
// reused frame: BenchmarkDecodeJPEG720p without the new frame and the
// garbage collection it causes.
func BenchmarkTurboDecodeBGR720p(b *testing.B) {
	body := testJPEG720p(b)
	dst := make([]byte, 1280*720*3)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuNanos()
	for b.Loop() {
		if err := turbojpeg.DecodeBGR(dst, body, 1280, 720); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

package frame

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		name    string
		build   func() (*Frame, error)
		wantErr bool
		want    []byte
	}{
		{"bgr", func() (*Frame, error) { return NewBGR(2, 1, []byte{1, 2, 3, 4, 5, 6}) }, false, []byte{1, 2, 3, 4, 5, 6}},
		{"bgr short", func() (*Frame, error) { return NewBGR(2, 1, []byte{1, 2, 3, 4, 5}) }, true, nil},
		{"bgr long", func() (*Frame, error) { return NewBGR(1, 1, []byte{1, 2, 3, 4}) }, true, nil},
		{"bgr zero width", func() (*Frame, error) { return NewBGR(0, 1, nil) }, true, nil},
		{"bgr zero height", func() (*Frame, error) { return NewBGR(1, 0, nil) }, true, nil},
		{"bgr negative", func() (*Frame, error) { return NewBGR(-1, -3, make([]byte, 9)) }, true, nil},
		{"bgr too wide", func() (*Frame, error) { return NewBGR(MaxWidth+1, 1, make([]byte, 3*(MaxWidth+1))) }, true, nil},
		{"bgr too tall", func() (*Frame, error) { return NewBGR(1, MaxHeight+1, make([]byte, 3*(MaxHeight+1))) }, true, nil},
		{"bgr max width", func() (*Frame, error) { return NewBGR(MaxWidth, 1, make([]byte, 3*MaxWidth)) }, false, make([]byte, 3*MaxWidth)},
		{"gray", func() (*Frame, error) { return NewGray(3, 1, []byte{0, 9, 255}) }, false, []byte{0, 0, 0, 9, 9, 9, 255, 255, 255}},
		{"gray wrong length", func() (*Frame, error) { return NewGray(3, 1, []byte{0, 9}) }, true, nil},
		{"gray zero", func() (*Frame, error) { return NewGray(0, 0, nil) }, true, nil},
		{"bgra", func() (*Frame, error) { return NewBGRA(2, 1, []byte{1, 2, 3, 0, 4, 5, 6, 255}) }, false, []byte{1, 2, 3, 4, 5, 6}},
		{"bgra wrong length", func() (*Frame, error) { return NewBGRA(2, 1, []byte{1, 2, 3, 4, 5, 6}) }, true, nil},
		{"bgra too tall", func() (*Frame, error) { return NewBGRA(1, MaxHeight+1, make([]byte, 4*(MaxHeight+1))) }, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.build()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, frame %dx%d", f.Width, f.Height)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Data, tt.want) {
				t.Errorf("data %v, want %v", f.Data, tt.want)
			}
			if len(f.Data) != f.Width*f.Height*3 {
				t.Errorf("len(Data) = %d for %dx%d", len(f.Data), f.Width, f.Height)
			}
		})
	}
	if err := CheckSize(0, 5); !errors.Is(err, ErrSize) {
		t.Errorf("CheckSize(0, 5) = %v, want ErrSize", err)
	}
}

func TestNewBGRCopies(t *testing.T) {
	data := []byte{1, 2, 3}
	f, err := NewBGR(1, 1, data)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 99
	if f.Data[0] != 1 {
		t.Error("NewBGR kept the caller's slice")
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// colourImage is a 16x8 RGBA image of four flat quadrant colours.
func colourImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 16, 8))
	quads := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {200, 100, 50, 255}}
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			img.SetRGBA(x, y, quads[(y/4)*2+x/8])
		}
	}
	return img
}

// checkImage compares a frame with an image pixel by pixel within tol.
func checkImage(t *testing.T, f *Frame, img image.Image, tol int) {
	t.Helper()
	b := img.Bounds()
	if f.Width != b.Dx() || f.Height != b.Dy() || len(f.Data) != f.Width*f.Height*3 {
		t.Fatalf("frame %dx%d (%d bytes), want %dx%d", f.Width, f.Height, len(f.Data), b.Dx(), b.Dy())
	}
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			want := []int{int(bl >> 8), int(g >> 8), int(r >> 8)}
			got := f.Data[3*(y*f.Width+x) : 3*(y*f.Width+x)+3]
			for c := range 3 {
				if d := int(got[c]) - want[c]; d > tol || d < -tol {
					t.Fatalf("pixel (%d,%d) = %v, want %v (±%d)", x, y, got, want, tol)
				}
			}
		}
	}
}

func TestDecode(t *testing.T) {
	rgba := colourImage()
	nrgba := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	nrgba.Pix = []byte{
		255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0,
		10, 20, 30, 255, 200, 100, 50, 1, 255, 255, 255, 254,
	}
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 17)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), palette.WebSafe)
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i * 13)
	}
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 3, 3))
	for i := range rgba64.Pix {
		rgba64.Pix[i] = uint8(i * 7)
	}
	for i := 6; i < len(rgba64.Pix); i += 8 {
		rgba64.Pix[i], rgba64.Pix[i+1] = 0xff, 0xff // opaque
	}

	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        image.Image // nil: expect an error
		tol         int
	}{
		{"png rgba", "image/png", encodePNG(t, rgba), rgba, 0},
		{"png nrgba (alpha onto black)", "image/png", encodePNG(t, nrgba), nrgba, 0},
		{"png gray", "image/png", encodePNG(t, gray), gray, 0},
		{"png paletted", "image/png", encodePNG(t, pal), pal, 0},
		{"png 16-bit", "image/png", encodePNG(t, rgba64), rgba64, 0},
		{"png with parameters and case", "IMAGE/PNG; charset=binary", encodePNG(t, rgba), rgba, 0},
		{"jpeg colour", "image/jpeg", encodeJPEG(t, rgba), rgba, 24},
		{"jpeg alias", "image/jpg", encodeJPEG(t, rgba), rgba, 24},
		{"jpeg gray", "image/jpeg", encodeJPEG(t, gray), gray, 3},
		{"jpeg body as png", "image/png", encodeJPEG(t, rgba), nil, 0},
		{"png body as jpeg", "image/jpeg", encodePNG(t, rgba), nil, 0},
		{"truncated png", "image/png", encodePNG(t, rgba)[:40], nil, 0},
		{"truncated jpeg", "image/jpeg", encodeJPEG(t, rgba)[:100], nil, 0},
		{"empty", "image/png", nil, nil, 0},
		{"garbage", "image/jpeg", []byte("not an image at all"), nil, 0},
		{"too wide png", "image/png", encodePNG(t, image.NewGray(image.Rect(0, 0, MaxWidth+1, 1))), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.contentType, tt.body)
			if tt.want == nil {
				if err == nil {
					t.Fatal("no error")
				}
				if errors.Is(err, ErrUnsupportedFormat) {
					t.Errorf("corrupt data reported as unsupported: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, f, tt.want, tt.tol)
		})
	}
}

func TestDecodeUnsupported(t *testing.T) {
	body := encodePNG(t, colourImage())
	for _, ct := range []string{"", "image/gif", "image/webp", "application/octet-stream", "text/plain", "image/png+x", ";;"} {
		_, err := Decode(ct, body)
		if !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("Decode(%q) error %v, want ErrUnsupportedFormat", ct, err)
		}
	}
}

// The YCbCr fast path gives exactly what the generic color model gives, for
// every subsampling ratio and for sub-images with odd origins.
func TestFromImageYCbCr(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		m := image.NewYCbCr(image.Rect(0, 0, 37, 23), ratio)
		for _, p := range [][]byte{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
		for _, img := range []image.Image{m, m.SubImage(image.Rect(3, 5, 30, 20)), m.SubImage(image.Rect(1, 1, 2, 2))} {
			f := FromImage(img)
			checkImage(t, f, img, 0)
		}
	}
}

func TestFromImageSubImages(t *testing.T) {
	rgba := colourImage()
	nrgba := image.NewNRGBA(rgba.Bounds())
	gray := image.NewGray(rgba.Bounds())
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(i * 31)
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 3)
	}
	r := image.Rect(5, 3, 13, 7)
	for _, img := range []image.Image{rgba.SubImage(r), nrgba.SubImage(r), gray.SubImage(r)} {
		checkImage(t, FromImage(img), img, 0)
	}
}

func TestPlaceholder(t *testing.T) {
	tests := []struct {
		mode model.Placeholder
		want byte
	}{
		{"gray", 127},
		{"black", 0},
		{"", 127},
		{"purple", 127},
	}
	for _, tt := range tests {
		f := Placeholder(64, 36, tt.mode)
		if f.Width != 64 || f.Height != 36 || len(f.Data) != 64*36*3 {
			t.Fatalf("%q: %dx%d, %d bytes", tt.mode, f.Width, f.Height, len(f.Data))
		}
		for i, v := range f.Data {
			if v != tt.want {
				t.Fatalf("%q: byte %d = %d, want %d", tt.mode, i, v, tt.want)
			}
		}
		if Placeholder(64, 36, tt.mode) != f {
			t.Errorf("%q: second call built a new frame", tt.mode)
		}
	}
	if Placeholder(64, 36, "gray") == Placeholder(64, 36, "black") {
		t.Error("gray and black share a frame")
	}
	if Placeholder(64, 36, "gray") == Placeholder(36, 64, "gray") {
		t.Error("two sizes share a frame")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic for a zero size")
			}
		}()
		Placeholder(0, 10, "gray")
	}()
}

func FuzzDecode(f *testing.F) {
	f.Add("image/png", encodePNG(f, colourImage()))
	f.Add("image/jpeg", encodeJPEG(f, colourImage()))
	f.Add("image/jpeg", []byte{0xff, 0xd8, 0xff})
	f.Add("image/png", []byte("\x89PNG\r\n\x1a\n"))
	f.Add("text/plain", []byte("hello"))
	f.Add("image/png", writePNG(f, pngSpec{pngHeader: pngHeader{width: 5, height: 3, depth: 16, colorType: pngRGBA, interlaced: true}}))
	f.Add("image/png", writePNG(f, pngSpec{pngHeader: pngHeader{width: 9, height: 2, depth: 2, colorType: pngPalette}, plte: []byte{1, 2, 3, 4, 5, 6}, trns: []byte{7}}))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		h, herr := ReadHeader(contentType, body)
		fr, err := Decode(contentType, body)
		if err != nil {
			if fr != nil {
				t.Fatal("frame and error")
			}
			return
		}
		if CheckSize(fr.Width, fr.Height) != nil || len(fr.Data) != fr.Width*fr.Height*3 {
			t.Fatalf("frame %dx%d with %d bytes", fr.Width, fr.Height, len(fr.Data))
		}
		if herr != nil || h.Width != fr.Width || h.Height != fr.Height || h.Cost < int64(len(fr.Data)) {
			t.Fatalf("header %+v (%v) for a %dx%d frame", h, herr, fr.Width, fr.Height)
		}
	})
}

func TestFromImageCMYK(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m := image.NewCMYK(image.Rect(0, 0, 19, 7))
	for i := range m.Pix {
		m.Pix[i] = []byte{0, 255, byte(rng.IntN(256))}[rng.IntN(3)]
	}
	checkImage(t, FromImage(m), m, 0)
	checkImage(t, FromImage(m.SubImage(image.Rect(3, 2, 17, 6))), m.SubImage(image.Rect(3, 2, 17, 6)), 0)
}

// ReadHeader's Cost covers what decoding a JPEG allocates (it is what the
// API budgets), without overstating it much.
func TestJPEGCost(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	colour := image.NewRGBA(image.Rect(0, 0, 1001, 703))
	gray := image.NewGray(colour.Rect)
	for i := range colour.Pix {
		colour.Pix[i] = uint8(i * 7)
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 5)
	}
	for _, img := range []image.Image{colour, gray} {
		body := encodeJPEG(t, img)
		h, err := ReadHeader("image/jpeg", body)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Decode("image/jpeg", body); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		alloc := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%T: cost %d, allocated %d", img, h.Cost, alloc)
		if h.Cost < alloc*9/10 || h.Cost > alloc*3/2 {
			t.Errorf("%T: cost %d for %d bytes allocated", img, h.Cost, alloc)
		}
	}
	// A progressive frame header costs its coefficients too.
	body := encodeJPEG(t, colour)
	baseline, _ := ReadHeader("image/jpeg", body)
	if i := bytes.Index(body, []byte{0xff, 0xc0}); i > 0 {
		body[i+1] = 0xc2
	}
	if l, ok := scanJPEG(body); !ok || !l.progressive || len(l.comps) != 3 || l.comps[0] != [2]int{2, 2} {
		t.Errorf("progressive layout %+v %v", l, ok)
	}
	if c := jpegCost(body, 1001, 703); c < baseline.Cost+3*1001*703 {
		t.Errorf("progressive cost %d, baseline %d", c, baseline.Cost)
	}
	if c := jpegCost([]byte("garbage"), 1001, 703); c < 20*1001*703 {
		t.Errorf("unreadable layout costs %d, want the worst case", c)
	}
}

package testutil

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

func TestZeroPNG(t *testing.T) {
	for _, c := range []struct{ w, h, depth, colorType int }{
		{1, 1, 8, PNGGray}, {3, 2, 16, PNGRGBA}, {300, 200, 8, PNGRGB}, {77, 1000, 16, PNGRGBA}, {1000, 1, 8, PNGGray},
	} {
		body := ZeroPNG(c.w, c.h, c.depth, c.colorType)
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if img.Bounds() != image.Rect(0, 0, c.w, c.h) {
			t.Fatalf("%+v: bounds %v", c, img.Bounds())
		}
		if r, g, b, a := img.At(c.w-1, c.h-1).RGBA(); r|g|b != 0 || (c.colorType != PNGRGBA && a != 0xffff) {
			t.Fatalf("%+v: last pixel %d %d %d %d", c, r, g, b, a)
		}
	}
	if n := len(ZeroPNG(7680, 4320, 16, PNGRGBA)); n > 2<<20 {
		t.Errorf("the 8K 16-bit bomb is %d bytes", n)
	}
}

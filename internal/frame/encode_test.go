package frame

import "testing"

// A JPEG of a frame decodes back to the same picture (within JPEG's loss),
// with red, green and blue in their places (BGR order in, RGB out).
func TestEncodeJPEGRoundTrip(t *testing.T) {
	const w, h = 48, 32
	data := make([]byte, w*h*3)
	for y := range h {
		for x := range w {
			i := (y*w + x) * 3
			switch {
			case x < w/3:
				data[i+2] = 255 // red
			case x < 2*w/3:
				data[i+1] = 255 // green
			default:
				data[i] = 255 // blue
			}
		}
	}
	src, err := NewBGR(w, h, data)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeJPEG(src, 90)
	if err != nil {
		t.Fatal(err)
	}
	if hd, err := ReadHeader("image/jpeg", enc); err != nil || hd.Width != w || hd.Height != h {
		t.Fatalf("header %+v, %v", hd, err)
	}
	got, err := Decode("image/jpeg", enc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		x       int
		b, g, r byte
	}{{w / 6, 0, 0, 255}, {w / 2, 0, 255, 0}, {5 * w / 6, 255, 0, 0}} {
		i := (h/2*w + c.x) * 3
		px := got.Data[i : i+3]
		if diff(px[0], c.b) > 24 || diff(px[1], c.g) > 24 || diff(px[2], c.r) > 24 {
			t.Errorf("pixel at x=%d: BGR %v, want %d,%d,%d", c.x, px, c.b, c.g, c.r)
		}
	}
}

func diff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

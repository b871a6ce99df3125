// Package frame owns the video frame type of the streaming runtime and the
// operations on it: building frames from raw pixels (BGR24, gray, BGRA),
// decoding JPEG and PNG bodies into frames, fitting a frame into an output's
// exact size (Resizer) and the cached placeholder frames shown when nothing
// is published.
//
// Every frame in this package is BGR24: Height rows of Width*3 bytes, blue
// first, no padding, which is what ffmpeg's rawvideo demuxer reads with
// -pix_fmt bgr24.
//
// The package is pure computation: it never does I/O, never blocks on
// anything but its own worker goroutines (Resizer.Contain waits for the rows
// it split across CPUs), and keeps no goroutine alive between calls.
package frame

import (
	"errors"
	"fmt"
)

// Size limits of a frame, inclusive (8K UHD).
const (
	MaxWidth  = 7680
	MaxHeight = 4320
)

// ErrUnsupportedFormat is wrapped by Decode's error when the content type is
// not one it decodes; the HTTP layer maps it to 415 Unsupported Media Type.
var ErrUnsupportedFormat = errors.New("frame: unsupported image format")

// ErrSize is wrapped by the errors of the constructors and Decode when a
// width or height is outside 1..MaxWidth x 1..MaxHeight.
var ErrSize = errors.New("frame: size out of range")

// Frame is an immutable-after-construction BGR24 image: Data holds Height
// rows of Width*3 bytes, no padding. Frames are shared between goroutines
// (pumps, placeholders), so nobody may modify one after it is built.
type Frame struct {
	Width, Height int
	Data          []byte
}

// CheckSize reports whether width x height is a valid frame size, with an
// error wrapping ErrSize when it is not.
func CheckSize(width, height int) error {
	if width < 1 || width > MaxWidth || height < 1 || height > MaxHeight {
		return fmt.Errorf("%w: %dx%d (want 1..%d x 1..%d)", ErrSize, width, height, MaxWidth, MaxHeight)
	}
	return nil
}

// checkLen validates the size and that data holds exactly width*height*bpp
// bytes.
func checkLen(width, height, bpp int, data []byte, format string) error {
	if err := CheckSize(width, height); err != nil {
		return err
	}
	if want := width * height * bpp; len(data) != want {
		return fmt.Errorf("frame: %s %dx%d needs %d bytes, got %d", format, width, height, want, len(data))
	}
	return nil
}

// NewBGR returns a frame holding a copy of data, BGR24 rows of width*3
// bytes. It fails when the size is out of range or len(data) is not
// width*height*3.
func NewBGR(width, height int, data []byte) (*Frame, error) {
	if err := checkLen(width, height, 3, data, "BGR24"); err != nil {
		return nil, err
	}
	return &Frame{Width: width, Height: height, Data: append([]byte(nil), data...)}, nil
}

// WrapBGR returns a frame whose pixels are data itself, not a copy: the
// ingest path reads a raw body straight into the buffer that becomes the
// frame. The caller gives data up: nobody may modify it afterwards. It
// fails as NewBGR does.
func WrapBGR(width, height int, data []byte) (*Frame, error) {
	if err := checkLen(width, height, 3, data, "BGR24"); err != nil {
		return nil, err
	}
	return &Frame{Width: width, Height: height, Data: data[:len(data):len(data)]}, nil
}

// NewGray returns a BGR frame built from 8-bit gray data (width*height
// bytes): each gray value becomes B = G = R.
func NewGray(width, height int, data []byte) (*Frame, error) {
	if err := checkLen(width, height, 1, data, "gray"); err != nil {
		return nil, err
	}
	out := make([]byte, len(data)*3)
	grayToBGR(out, data)
	return &Frame{Width: width, Height: height, Data: out}, nil
}

// NewBGRA returns a BGR frame built from BGRA data (width*height*4 bytes);
// the alpha byte is dropped, not composited.
func NewBGRA(width, height int, data []byte) (*Frame, error) {
	if err := checkLen(width, height, 4, data, "BGRA"); err != nil {
		return nil, err
	}
	out := make([]byte, width*height*3)
	for i, j := 0, 0; i+4 <= len(data); i, j = i+4, j+3 {
		s := data[i : i+3 : i+3]
		d := out[j : j+3 : j+3]
		d[0], d[1], d[2] = s[0], s[1], s[2]
	}
	return &Frame{Width: width, Height: height, Data: out}, nil
}

// grayToBGR expands gray bytes into dst (len(dst) >= 3*len(src)).
func grayToBGR(dst, src []byte) {
	dst = dst[:3*len(src)]
	for i, v := range src {
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = v, v, v
	}
}

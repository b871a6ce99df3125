//go:build turbojpeg

package frame

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = "libjpeg-turbo (TurboJPEG API)"

// decodeJPEG decodes a JPEG whose header said width x height (a valid
// frame size) with libjpeg-turbo, straight into a BGR frame: its SIMD
// decoder is 3-5x faster than image/jpeg and needs no conversion pass
// (DESIGN.md, Frame path). Chroma is upsampled by replication
// (TJFLAG_FASTUPSAMPLE), as image/jpeg does, so both builds give the same
// picture; the frame is chroma-subsampled again by the encoder anyway.
// Progressive scans are limited
// (TJFLAG_LIMITSCANS) and a warning ends the decode, so hostile files cost
// bounded time. Whatever libjpeg-turbo refuses or only warns about (CMYK,
// which it cannot turn into BGR, or slightly corrupt data) is left to
// image/jpeg, so every JPEG the standard decoder reads is still read.
func decodeJPEG(body []byte, width, height int) (*Frame, error) {
	f := &Frame{Width: width, Height: height, Data: make([]byte, width*height*3)}
	if err := turboDecode(f, body); err != nil {
		return decodeStdJPEG(body)
	}
	return f, nil
}

func turboDecode(f *Frame, body []byte) error {
	h := C.tjInitDecompress()
	if h == nil {
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(nil)))
	}
	defer C.tjDestroy(h)
	src, n := (*C.uchar)(unsafe.Pointer(&body[0])), C.ulong(len(body))
	var w, ht, subsamp, colorspace C.int
	if C.tjDecompressHeader3(h, src, n, &w, &ht, &subsamp, &colorspace) != 0 {
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(h)))
	}
	if int(w) != f.Width || int(ht) != f.Height {
		return fmt.Errorf("libjpeg-turbo read %dx%d, the header says %dx%d", w, ht, f.Width, f.Height)
	}
	dst := (*C.uchar)(unsafe.Pointer(&f.Data[0]))
	if C.tjDecompress2(h, src, n, dst, w, 0, ht, C.TJPF_BGR, C.TJFLAG_FASTUPSAMPLE|C.TJFLAG_LIMITSCANS|C.TJFLAG_STOPONWARNING) != 0 {
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(h)))
	}
	return nil
}

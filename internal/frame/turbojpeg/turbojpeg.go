//go:build turbojpeg

package turbojpeg

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Name names the decoder.
const Name = "libjpeg-turbo (TurboJPEG API)"

// DecodeBGR decodes the JPEG body into dst, BGR24 rows of width x height
// without padding (len(dst) == width*height*3). It fails when the image has
// another size, and at the first warning as at any error.
//
// Chroma is upsampled by replication (TJFLAG_FASTUPSAMPLE), as image/jpeg
// does, so both decoders give the same picture within rounding.
// Progressive scans are limited (TJFLAG_LIMITSCANS) and a warning ends the
// decode (TJFLAG_STOPONWARNING), so a hostile file costs bounded time.
func DecodeBGR(dst, body []byte, width, height int) error {
	if len(body) == 0 || len(dst) != width*height*3 {
		return errors.New("turbojpeg: empty body or wrong destination size")
	}
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
	if int(w) != width || int(ht) != height {
		return fmt.Errorf("libjpeg-turbo read %dx%d, want %dx%d", w, ht, width, height)
	}
	out := (*C.uchar)(unsafe.Pointer(&dst[0]))
	if C.tjDecompress2(h, src, n, out, w, 0, ht, C.TJPF_BGR, C.TJFLAG_FASTUPSAMPLE|C.TJFLAG_LIMITSCANS|C.TJFLAG_STOPONWARNING) != 0 {
		return fmt.Errorf("libjpeg-turbo: %s", C.GoString(C.tjGetErrorStr2(h)))
	}
	return nil
}

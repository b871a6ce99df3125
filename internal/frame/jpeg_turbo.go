//go:build turbojpeg

package frame

import "github.com/toposync/toposync-streaming/internal/frame/turbojpeg"

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = turbojpeg.Name

// decodeJPEG decodes a JPEG whose header said width x height (a valid
// frame size) with libjpeg-turbo, straight into a BGR frame: its SIMD
// decoder is 3-5x faster than image/jpeg and needs no conversion pass
// (DESIGN.md, Frame path). Whatever libjpeg-turbo refuses or only warns
// about (CMYK, which it cannot turn into BGR, or slightly corrupt data) is
// left to image/jpeg, so every JPEG the standard decoder reads is still
// read.
func decodeJPEG(body []byte, width, height int) (*Frame, error) {
	f := &Frame{Width: width, Height: height, Data: make([]byte, width*height*3)}
	if err := turbojpeg.DecodeBGR(f.Data, body, width, height); err != nil {
		return decodeStdJPEG(body)
	}
	return f, nil
}

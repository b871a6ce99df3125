//go:build !turbojpeg

package frame

// JPEGDecoder names the JPEG decoder this build uses. Builds with the
// turbojpeg tag (the Makefile's) use libjpeg-turbo instead (jpeg_turbo.go).
const JPEGDecoder = "image/jpeg (Go standard library; build with -tags turbojpeg for libjpeg-turbo)"

// decodeJPEG decodes a JPEG whose header said width x height (a valid
// frame size).
func decodeJPEG(body []byte, _, _ int) (*Frame, error) {
	return decodeStdJPEG(body)
}

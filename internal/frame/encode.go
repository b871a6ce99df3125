package frame

import (
	"bytes"
	"image"
	"image/jpeg"
)

// EncodeJPEG encodes f as a baseline JPEG of the given quality (1..100).
// It allocates an RGBA copy of f (4 bytes a pixel) besides the output,
// which callers bounding memory must count (see JPEGCost).
func EncodeJPEG(f *Frame, quality int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	for i, j := 0, 0; i < len(f.Data); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = f.Data[i+2], f.Data[i+1], f.Data[i], 0xff
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// JPEGCost is about what EncodeJPEG allocates for a width x height frame:
// the RGBA copy and an output buffer that may grow to the raw size.
func JPEGCost(width, height int) int64 {
	return int64(width) * int64(height) * (4 + 3)
}

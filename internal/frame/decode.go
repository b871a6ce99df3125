package frame

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"mime"
	"strings"
)

// Header is what an encoded frame's header says, read without decoding any
// pixel: the size of the frame it decodes to and what decoding it costs.
type Header struct {
	Width, Height int
	// Cost is about how many bytes decoding allocates at its peak, the
	// frame's Width*Height*3 included.
	Cost int64
}

// ReadHeader reads the header of an encoded frame: contentType and body as
// for Decode, with the same errors, except that a size outside the frame
// limits is not one (the caller judges sizes; Decode refuses them).
func ReadHeader(contentType string, body []byte) (Header, error) {
	mt, err := imageType(contentType)
	if err != nil {
		return Header{}, err
	}
	if mt == "image/png" {
		h, _, err := readPNGHeader(body)
		if err != nil {
			return Header{}, fmt.Errorf("frame: decode %s: %w", mt, err)
		}
		// The frame and two rows; the zlib reader's window is noise.
		cost := 3*int64(h.width)*int64(h.height) + 2*int64(h.rowBytes(h.width))
		return Header{Width: h.width, Height: h.height, Cost: cost}, nil
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return Header{}, fmt.Errorf("frame: decode %s: %w", mt, err)
	}
	return Header{Width: cfg.Width, Height: cfg.Height, Cost: jpegCost(body, cfg.Width, cfg.Height)}, nil
}

// imageType is the decoder's name for contentType: "image/jpeg" (or the
// common alias "image/jpg") and "image/png", parameters and case ignored;
// any other type is an error wrapping ErrUnsupportedFormat.
func imageType(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch mt {
	case "image/jpeg", "image/jpg":
		return "image/jpeg", nil
	case "image/png":
		return mt, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedFormat, contentType)
}

// Decode turns an HTTP body into a frame. contentType is the request's
// Content-Type (see imageType). Any other type gives an error wrapping
// ErrUnsupportedFormat; corrupt data, or an image whose size is outside the
// frame limits (checked from the header, before decoding the pixels), gives
// another error.
//
// PNG is decoded by this package straight into the frame (working memory:
// the frame and two rows, whatever the bit depth); JPEG by JPEGDecoder.
// Transparent PNG pixels are composited onto black.
func Decode(contentType string, body []byte) (*Frame, error) {
	mt, err := imageType(contentType)
	if err != nil {
		return nil, err
	}
	f, err := decode(mt, body)
	if err != nil {
		return nil, fmt.Errorf("frame: decode %s: %w", mt, err)
	}
	return f, nil
}

func decode(mt string, body []byte) (*Frame, error) {
	if mt == "image/png" {
		return decodePNG(body)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if err := CheckSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	return decodeJPEG(body, cfg.Width, cfg.Height)
}

// decodeStdJPEG decodes with image/jpeg, then converts to BGR.
func decodeStdJPEG(body []byte) (*Frame, error) {
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	if err := CheckSize(b.Dx(), b.Dy()); err != nil {
		return nil, err
	}
	return FromImage(img), nil
}

// FromImage converts any image.Image (of a valid frame size; see CheckSize)
// to a BGR frame. *image.YCbCr, *image.RGBA, *image.NRGBA, *image.Gray and
// *image.CMYK take fast paths; anything else goes through its color model. Alpha is
// treated as premultiplied, so transparent pixels come out composited onto
// black.
func FromImage(img image.Image) *Frame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, w*h*3)
	switch m := img.(type) {
	case *image.YCbCr:
		fromYCbCr(out, m)
	case *image.RGBA:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			s := m.Pix[i : i+4*w : i+4*w]
			d := out[3*w*y : 3*w*(y+1) : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				p := s[4*x : 4*x+3 : 4*x+3]
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = p[2], p[1], p[0]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			s := m.Pix[i : i+4*w : i+4*w]
			d := out[3*w*y : 3*w*(y+1) : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				p := s[4*x : 4*x+4 : 4*x+4]
				q := d[3*x : 3*x+3 : 3*x+3]
				if a := p[3]; a == 0xff {
					q[0], q[1], q[2] = p[2], p[1], p[0]
				} else {
					q[0], q[1], q[2] = premul(p[2], a), premul(p[1], a), premul(p[0], a)
				}
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			grayToBGR(out[3*w*y:3*w*(y+1)], m.Pix[i:i+w])
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			s := m.Pix[i : i+4*w : i+4*w]
			d := out[3*w*y : 3*w*(y+1) : 3*w*(y+1)]
			for x := 0; x < w; x++ {
				p := s[4*x : 4*x+4 : 4*x+4]
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = uncmyk(p[2], p[3]), uncmyk(p[1], p[3]), uncmyk(p[0], p[3])
			}
		}
	default:
		j := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				out[j], out[j+1], out[j+2] = uint8(bl>>8), uint8(g>>8), uint8(r>>8)
				j += 3
			}
		}
	}
	return &Frame{Width: w, Height: h, Data: out}
}

// premul multiplies an 8-bit channel by an 8-bit alpha exactly as
// color.NRGBA.RGBA does (then keeps the high byte), so the fast path and the
// generic path agree.
func premul(c, a uint8) uint8 {
	c16 := uint32(c) * 0x101
	a16 := uint32(a) * 0x101
	return uint8((c16 * a16 / 0xffff) >> 8)
}

// uncmyk is one channel of color.CMYK.RGBA (ink c, black k), high byte.
func uncmyk(c, k uint8) uint8 {
	w := 0xffff - uint32(k)*0x101
	return uint8((0xffff - uint32(c)*0x101) * w / 0xffff >> 8)
}

// fromYCbCr converts a (JPEG) YCbCr image with the same fixed-point
// arithmetic as color.YCbCrToRGB, for every chroma subsampling. It walks
// each row by chroma sample: the chroma terms (from tables) are worked out
// once for the 1, 2 or 4 pixels that share the sample.
func fromYCbCr(out []byte, m *image.YCbCr) {
	b := m.Rect
	w := b.Dx()
	// Horizontal and vertical chroma subsampling, as shifts.
	hs, vs := 0, 0
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	cx0 := b.Min.X >> hs
	nc := ((b.Max.X - 1) >> hs) - cx0 + 1 // chroma samples a row
	for y := b.Min.Y; y < b.Max.Y; y++ {
		yi := m.YOffset(b.Min.X, y)
		ys := m.Y[yi : yi+w]
		ci := (y>>vs - b.Min.Y>>vs) * m.CStride
		cbs, crs := m.Cb[ci:ci+nc], m.Cr[ci:ci+nc]
		d := out[3*w*(y-b.Min.Y) : 3*w*(y-b.Min.Y+1)]
		x := 0
		for c := range nc {
			cb, cr := cbs[c], crs[c]
			rc, gc, bc := yccR[cr], yccGb[cb]+yccGr[cr], yccB[cb]
			for end := min((c+cx0+1)<<hs-b.Min.X, w); x < end; x++ {
				yy := int32(ys[x]) * 0x10101
				q := d[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = clampYCC(yy+bc), clampYCC(yy+gc), clampYCC(yy+rc)
			}
		}
	}
}

// The chroma terms of color.YCbCrToRGB by sample value: R gets
// 91881*(cr-128), G -22554*(cb-128) - 46802*(cr-128), B 116130*(cb-128).
var yccR, yccGb, yccGr, yccB = func() (r, gb, gr, b [256]int32) {
	for i := range 256 {
		v := int32(i) - 128
		r[i], gb[i], gr[i], b[i] = 91881*v, -22554*v, -46802*v, 116130*v
	}
	return
}()

// clampYCC is the rounding and clamping of color.YCbCrToRGB: v is a channel
// in 16.16 fixed point.
func clampYCC(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

package encoder

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errCorrupt is wrapped by every error about a stream that is not the FLV
// ffmpeg writes.
var errCorrupt = errors.New("corrupt FLV stream")

// FLV tag types.
const (
	tagAudio  = 8
	tagVideo  = 9
	tagScript = 18
)

// maxPreamble bounds the bytes skipped before the FLV signature (something
// else writing to the child's stdout before ffmpeg does).
const maxPreamble = 64 << 10

var flvSignature = []byte{'F', 'L', 'V', 1}

// flvReader reads the tags of an FLV stream (the FLV file format,
// version 10.1, section E): a 9-byte header, then tags of an 11-byte
// header, a body of DataSize bytes and a 32-bit PreviousTagSize that must
// equal 11 + DataSize. It does not interpret bodies.
type flvReader struct {
	r       *bufio.Reader
	maxBody int // larger bodies are skipped, not read
	started bool
	hdr     [11]byte
}

func newFLVReader(r io.Reader, maxBody int) *flvReader {
	return &flvReader{r: bufio.NewReaderSize(r, 64<<10), maxBody: maxBody}
}

// flvTag is one tag. Body is nil when the body was longer than maxBody and
// skipped; Size is its length either way.
type flvTag struct {
	Type byte
	MS   uint32 // DTS in milliseconds (ffmpeg writes 31 bits)
	Size int
	Body []byte
}

// next returns the next tag. Its error is io.EOF at a clean end,
// io.ErrUnexpectedEOF inside a tag, and wraps errCorrupt when the bytes
// are not FLV.
func (d *flvReader) next() (flvTag, error) {
	if !d.started {
		if err := d.header(); err != nil {
			return flvTag{}, err
		}
		d.started = true
	}
	if _, err := io.ReadFull(d.r, d.hdr[:]); err != nil {
		return flvTag{}, err
	}
	h := d.hdr[:]
	t := flvTag{
		Type: h[0] & 0x1f,
		Size: int(h[1])<<16 | int(h[2])<<8 | int(h[3]),
		MS:   uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]),
	}
	if h[0]&0xe0 != 0 { // reserved bits, or the filter (encryption) bit
		return t, fmt.Errorf("%w: tag flags %#x", errCorrupt, h[0])
	}
	if t.Type != tagAudio && t.Type != tagVideo && t.Type != tagScript {
		return t, fmt.Errorf("%w: tag type %d", errCorrupt, t.Type)
	}
	if h[8]|h[9]|h[10] != 0 {
		return t, fmt.Errorf("%w: stream id not 0", errCorrupt)
	}
	var err error
	if t.Size > d.maxBody {
		_, err = d.r.Discard(t.Size)
	} else {
		t.Body = make([]byte, t.Size)
		_, err = io.ReadFull(d.r, t.Body)
	}
	if err != nil {
		return t, unexpected(err)
	}
	var prev [4]byte
	if _, err := io.ReadFull(d.r, prev[:]); err != nil {
		return t, unexpected(err)
	}
	if got := binary.BigEndian.Uint32(prev[:]); got != uint32(t.Size)+11 {
		return t, fmt.Errorf("%w: previous tag size %d after a tag of %d bytes", errCorrupt, got, t.Size+11)
	}
	return t, nil
}

// header finds the signature, skipping what comes before it, and reads
// past the header and the first PreviousTagSize.
func (d *flvReader) header() error {
	skipped := 0
	for {
		head, err := d.r.Peek(len(flvSignature))
		if err != nil {
			return err
		}
		if bytes.Equal(head, flvSignature) {
			break
		}
		if skipped >= maxPreamble {
			return fmt.Errorf("%w: no FLV signature in the first %d bytes", errCorrupt, maxPreamble)
		}
		// Skip to the next possible start of the signature.
		n := bytes.IndexByte(head[1:], 'F') + 1
		if n == 0 {
			n = len(head)
		}
		_, _ = d.r.Discard(n)
		skipped += n
	}
	var h [9]byte
	if _, err := io.ReadFull(d.r, h[:]); err != nil {
		return unexpected(err)
	}
	offset := int(binary.BigEndian.Uint32(h[5:]))
	if offset < 9 || offset > 1024 {
		return fmt.Errorf("%w: header size %d", errCorrupt, offset)
	}
	if _, err := d.r.Discard(offset - 9 + 4); err != nil { // + PreviousTagSize0
		return unexpected(err)
	}
	return nil
}

// unexpected turns an EOF inside a structure into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

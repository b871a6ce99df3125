package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// The streaming ingest's framing: each frame is a 4-byte big-endian length
// followed by that many bytes.

var (
	errShortPrefix = errors.New("truncated length prefix")
	errShortFrame  = errors.New("the body ended inside the frame")
)

// frameTooLargeError is a length prefix above the limit.
type frameTooLargeError struct{ n, max int }

func (e *frameTooLargeError) Error() string {
	return fmt.Sprintf("%d bytes, more than %d", e.n, e.max)
}

// frameReader reads frames from a body. Its buffer grows with the bytes
// that actually arrive, so a length prefix costs nothing until its bytes
// are sent (announcing 99 MB used to allocate them at once).
type frameReader struct {
	r   io.Reader
	max int
	buf []byte
}

// frameGrowth is the least a buffer grows by while a frame arrives.
const frameGrowth = 64 << 10

// next returns the next frame, valid until the following call. It returns
// io.EOF when the body ends between frames, errShortPrefix or errShortFrame
// when it ends elsewhere, a *frameTooLargeError for a length above max, and
// the body's own read errors as they are.
func (fr *frameReader) next() ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(fr.r, prefix[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errShortPrefix
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(prefix[:]))
	if n > fr.max {
		return nil, &frameTooLargeError{n: n, max: fr.max}
	}
	have := 0
	for have < n {
		want := n
		if cap(fr.buf) < n {
			// Double what arrived so far, no more: memory follows data.
			want = min(n, have+max(have, frameGrowth))
			fr.buf = slices.Grow(fr.buf[:have], want-have)
		}
		fr.buf = fr.buf[:want]
		got, err := io.ReadFull(fr.r, fr.buf[have:want])
		have += got
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errShortFrame
			}
			return nil, err
		}
	}
	return fr.buf[:n], nil
}

package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
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
//
// With keep, every frame comes in a buffer of its own that the caller keeps
// (raw BGR24 pixels become the frame as they are, see readOwned); a frame
// no larger than one the body has already delivered whole is then read
// straight into its buffer.
type frameReader struct {
	r      io.Reader
	max    int
	buf    []byte
	keep   bool
	proven int // the largest frame delivered whole (keep)
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
	if fr.keep {
		data, _, err := readOwned(fr.r, n, n <= fr.proven)
		if err != nil {
			return nil, err
		}
		fr.proven = max(fr.proven, n)
		return data, nil
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
			return nil, shortFrame(err)
		}
	}
	return fr.buf[:n], nil
}

// shortFrame is errShortFrame for a body that ended early, err otherwise.
func shortFrame(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errShortFrame
	}
	return err
}

// rawBlock is the unit in which readOwned gathers a body it does not read
// straight into its buffer.
const rawBlock = 1 << 20

var rawBlocks = sync.Pool{New: func() any { return new([rawBlock]byte) }}

// readOwned reads exactly n bytes from r into a new buffer of n bytes that
// the caller keeps: raw pixels become the frame without another copy. It
// returns how many bytes arrived; when fewer than n, errShortFrame (or r's
// own error).
//
// direct reads straight into the buffer; callers set it for sizes the
// sender has already delivered whole, whose allocation up front costs
// nothing the sender could not cause anyway. Otherwise memory follows data
// as in frameReader: beyond rawBlock, the bytes land in pooled blocks as
// they arrive and are copied into the buffer once all n are there. Either
// way every byte is copied at most once after it is read.
func readOwned(r io.Reader, n int, direct bool) ([]byte, int, error) {
	if direct || n <= rawBlock {
		buf := make([]byte, n)
		got, err := io.ReadFull(r, buf)
		if err != nil {
			return nil, got, shortFrame(err)
		}
		return buf, n, nil
	}
	blocks := make([]*[rawBlock]byte, 0, (n+rawBlock-1)/rawBlock)
	defer func() {
		for _, b := range blocks {
			rawBlocks.Put(b)
		}
	}()
	for have := 0; have < n; {
		b := rawBlocks.Get().(*[rawBlock]byte)
		blocks = append(blocks, b)
		got, err := io.ReadFull(r, b[:min(rawBlock, n-have)])
		have += got
		if err != nil {
			return nil, have, shortFrame(err)
		}
	}
	buf := make([]byte, n)
	for i, b := range blocks {
		copy(buf[i*rawBlock:], b[:])
	}
	return buf, n, nil
}

package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

func TestFrameReader(t *testing.T) {
	three := streamBody([]byte("abc"), nil, bytes.Repeat([]byte{7}, 200000)).Bytes()
	for _, tc := range []struct {
		name   string
		body   []byte
		frames int
		err    error
	}{
		{"frames", three, 3, io.EOF},
		{"empty", nil, 0, io.EOF},
		{"cut in a prefix", three[:2], 0, errShortPrefix},
		{"cut in a frame", three[:len(three)-1], 2, errShortFrame},
		{"cut after a prefix", three[:4+3+4+4], 2, errShortFrame},
	} {
		fr := &frameReader{r: bytes.NewReader(tc.body), max: 1 << 20}
		n := 0
		var err error
		for {
			if _, err = fr.next(); err != nil {
				break
			}
			n++
		}
		if n != tc.frames || !errors.Is(err, tc.err) {
			t.Errorf("%s: %d frames then %v, want %d then %v", tc.name, n, err, tc.frames, tc.err)
		}
	}
	fr := &frameReader{r: bytes.NewReader(streamBody(make([]byte, 11)).Bytes()), max: 10}
	var tooLarge *frameTooLargeError
	if _, err := fr.next(); !errors.As(err, &tooLarge) || tooLarge.n != 11 {
		t.Errorf("over max: %v", err)
	}
}

// A prefix announcing the largest frame, followed by a few bytes, costs
// about those bytes, not the frame.
func TestFrameReaderMemoryFollowsData(t *testing.T) {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(MaxFrameBytes))
	b.Write(make([]byte, 1000))
	fr := &frameReader{r: &b, max: MaxFrameBytes}
	if _, err := fr.next(); !errors.Is(err, errShortFrame) {
		t.Fatal(err)
	}
	if cap(fr.buf) > 2*frameGrowth {
		t.Errorf("buffer of %d bytes for 1000 that arrived", cap(fr.buf))
	}
	// Kept frames too: the bytes wait in pooled blocks, and a size not yet
	// delivered whole is not allocated.
	b.Reset()
	_ = binary.Write(&b, binary.BigEndian, uint32(MaxFrameBytes))
	b.Write(make([]byte, 1000))
	fr = &frameReader{r: &b, max: MaxFrameBytes, keep: true}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := fr.next(); !errors.Is(err, errShortFrame) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4*rawBlock {
		t.Errorf("%d bytes allocated for 1000 that arrived", n)
	}
}

// With keep, each frame has a buffer of its own, exactly its size.
func TestFrameReaderKeep(t *testing.T) {
	big := bytes.Repeat([]byte{9}, 3*rawBlock+5)
	fr := &frameReader{r: bytes.NewReader(streamBody([]byte("abc"), big, big, []byte("de")).Bytes()), max: MaxFrameBytes, keep: true}
	var got [][]byte
	for {
		f, err := fr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	want := [][]byte{[]byte("abc"), big, big, []byte("de")}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) || cap(got[i]) != len(want[i]) {
			t.Errorf("frame %d: %d bytes (cap %d), want %d", i, len(got[i]), cap(got[i]), len(want[i]))
		}
	}
	if &got[1][0] == &got[2][0] {
		t.Error("two frames share a buffer")
	}
}

// FuzzFrameReader: whatever the body, the frames read are exactly the
// body's framing, none above max, and a clean end means all of it.
func FuzzFrameReader(f *testing.F) {
	f.Add(streamBody([]byte("abc"), nil, []byte("de")).Bytes(), uint32(16))
	f.Add([]byte{0, 0, 0, 5, 1, 2}, uint32(16))
	f.Add([]byte{0, 0}, uint32(16))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, uint32(1<<20))
	f.Add(streamBody(make([]byte, 70000)).Bytes(), uint32(1<<20))
	f.Fuzz(func(t *testing.T, body []byte, max uint32) {
		max %= 1 << 20
		for _, keep := range []bool{false, true} {
			fr := &frameReader{r: bytes.NewReader(body), max: int(max), keep: keep}
			var again bytes.Buffer
			for {
				frame, err := fr.next()
				if err != nil {
					if errors.Is(err, io.EOF) && !bytes.Equal(again.Bytes(), body) {
						t.Fatalf("keep %v: clean end after %d of %d bytes", keep, again.Len(), len(body))
					}
					if !bytes.HasPrefix(body, again.Bytes()) {
						t.Fatalf("keep %v: frames read are not the body's", keep)
					}
					break
				}
				if len(frame) > int(max) {
					t.Fatalf("frame of %d bytes, max %d", len(frame), max)
				}
				_ = binary.Write(&again, binary.BigEndian, uint32(len(frame)))
				again.Write(frame)
			}
		}
	})
}

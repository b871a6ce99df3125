package encoder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"testing/iotest"
	"time"
)

// NAL units for hand-made streams (first byte: nal_ref_idc and type).
var (
	tSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda}
	tPPS = []byte{0x68, 0xce, 0x3c, 0x80}
	tSEI = []byte{0x06, 0x05, 0x01, 0x00}
	tIDR = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	tP   = []byte{0x41, 0x9a, 0x02, 0x04}
)

func flvHeader() []byte { return []byte{'F', 'L', 'V', 1, 1, 0, 0, 0, 9, 0, 0, 0, 0} }

func mkTag(typ byte, ms uint32, body []byte) []byte {
	n := len(body)
	b := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n), byte(ms >> 16), byte(ms >> 8), byte(ms), byte(ms >> 24), 0, 0, 0}
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, uint32(n+11))
}

// avcConfig is a sequence header tag body with lengthSize-byte NAL lengths.
func avcConfig(lengthSize int, sps, pps []byte) []byte {
	b := []byte{0x17, avcSequenceHdr, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xfc | byte(lengthSize-1), 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(append(b, sps...), 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

// avcFrame is a NALU tag body with lengthSize-byte NAL lengths.
func avcFrame(lengthSize int, nalus ...[]byte) []byte {
	b := []byte{0x27, avcNALU, 0, 0, 0}
	for _, n := range nalus {
		for i := lengthSize - 1; i >= 0; i-- {
			b = append(b, byte(len(n)>>(8*i)))
		}
		b = append(b, n...)
	}
	return b
}

func video(ms uint32, body []byte) []byte { return mkTag(tagVideo, ms, body) }

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// stream is a well-formed stream: metadata, sequence header, IDR, P, P.
func stream() []byte {
	return cat(flvHeader(), mkTag(tagScript, 0, []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}),
		video(0, avcConfig(4, tSPS, tPPS)), video(0, avcFrame(4, tSEI, tIDR)), video(33, avcFrame(4, tP)), video(67, avcFrame(4, tP)))
}

// got is a frame as the table writes it: its timestamp and NAL types
// (nil: not delivered).
type got struct {
	ms    uint32
	types []byte
}

func frameOf(f encodedFrame) got {
	g := got{ms: f.MS}
	for _, n := range f.NALUs {
		g.types = append(g.types, n[0]&0x1f)
	}
	return g
}

var bigP = append([]byte{0x41}, make([]byte, 100)...)

// splitterCases feed the unit test and the fuzz seeds.
var splitterCases = []struct {
	name  string
	in    []byte
	maxAU int
	want  []got
	err   error // after the frames; nil: io.EOF
}{
	{name: "stream", in: stream(), want: []got{{0, []byte{7, 8, 6, 5}}, {33, []byte{1}}, {67, []byte{1}}}},
	{name: "in-band parameter sets are not repeated",
		in:   cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, avcFrame(4, tSPS, tPPS, tIDR))),
		want: []got{{0, []byte{7, 8, 5}}}},
	{name: "nothing before the first IDR",
		in:   cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, avcFrame(4, tP)), video(40, avcFrame(4, tIDR)), video(80, avcFrame(4, tP))),
		want: []got{{0, nil}, {40, []byte{7, 8, 5}}, {80, []byte{1}}}},
	{name: "an oversized frame and those after it are skipped up to the next IDR", maxAU: 64,
		in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, avcFrame(4, tIDR)), video(10, avcFrame(4, bigP)),
			video(20, avcFrame(4, tP)), video(30, avcFrame(4, tIDR)), video(40, avcFrame(4, tP))),
		want: []got{{0, []byte{7, 8, 5}}, {10, nil}, {20, nil}, {30, []byte{7, 8, 5}}, {40, []byte{1}}}},
	{name: "two-byte NAL lengths, audio and end of sequence ignored",
		in: cat(flvHeader(), mkTag(tagAudio, 0, []byte{0xaf, 0}), video(0, avcConfig(2, tSPS, tPPS)), video(0, avcFrame(2, tIDR)),
			video(0, []byte{0x17, avcEndOfSeq, 0, 0, 0})),
		want: []got{{0, []byte{7, 8, 5}}}},
	{name: "an empty frame is not delivered",
		in:   cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, avcFrame(4, tIDR)), video(5, avcFrame(4, []byte{}))),
		want: []got{{0, []byte{7, 8, 5}}, {5, nil}}},
	{name: "timestamp extension", in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0x12345678, avcFrame(4, tIDR))),
		want: []got{{0x12345678, []byte{7, 8, 5}}}},
	{name: "garbage before the header is skipped", in: cat([]byte("libva info: VA-API version 1.17.0\nFL"), stream()),
		want: []got{{0, []byte{7, 8, 6, 5}}, {33, []byte{1}}, {67, []byte{1}}}},
	{name: "no header", in: bytes.Repeat([]byte("F garbage "), maxPreamble/10+10), err: errCorrupt},
	{name: "bad header size", in: []byte{'F', 'L', 'V', 1, 1, 0, 0, 0, 5, 0, 0, 0, 0}, err: errCorrupt},
	{name: "previous tag size does not match", in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), func() []byte {
		b := video(0, avcFrame(4, tIDR))
		b[len(b)-1]++
		return b
	}()), err: errCorrupt},
	{name: "garbage inside", in: cat(stream(), []byte("Error while decoding\n")), want: []got{{0, []byte{7, 8, 6, 5}}, {33, []byte{1}}, {67, []byte{1}}}, err: errCorrupt},
	{name: "encrypted tag", in: cat(flvHeader(), mkTag(tagVideo|0x20, 0, nil)), err: errCorrupt},
	{name: "stream id", in: cat(flvHeader(), func() []byte { b := video(0, avcConfig(4, tSPS, tPPS)); b[10] = 1; return b }()), err: errCorrupt},
	{name: "not H.264", in: cat(flvHeader(), video(0, []byte{0x1c, 0, 0, 0, 0})), err: errCorrupt},
	{name: "unknown AVC packet type", in: cat(flvHeader(), video(0, []byte{0x17, 7, 0, 0, 0})), err: errCorrupt},
	{name: "short video tag", in: cat(flvHeader(), video(0, []byte{0x17, 1})), err: errCorrupt},
	{name: "frame before the sequence header", in: cat(flvHeader(), video(0, avcFrame(4, tIDR))), err: errCorrupt},
	{name: "three-byte NAL lengths", in: cat(flvHeader(), video(0, avcConfig(3, tSPS, tPPS))), err: errCorrupt},
	{name: "sequence header with a PPS for an SPS", in: cat(flvHeader(), video(0, avcConfig(4, tPPS, tPPS)), video(0, avcFrame(4, tIDR))), err: errCorrupt},
	{name: "sequence header without PPS", in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)[:10+2+len(tSPS)])), err: errCorrupt},
	{name: "NAL unit longer than its tag",
		in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, cat([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 9}, tIDR))), err: errCorrupt},
	{name: "truncated NAL length", in: cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)), video(0, cat(avcFrame(4, tIDR), []byte{0, 0}))), err: errCorrupt},
	{name: "cut inside a tag", in: stream()[:len(stream())-3], want: []got{{0, []byte{7, 8, 6, 5}}, {33, []byte{1}}}, err: io.ErrUnexpectedEOF},
	{name: "empty", in: nil},
}

// split reads everything from r: the frames and the error that ended it.
func split(r io.Reader, maxAU int) ([]got, error) {
	if maxAU == 0 {
		maxAU = DefaultMaxAccessUnit
	}
	s := newSplitter(r, maxAU)
	var frames []got
	for {
		f, err := s.next()
		if err != nil {
			return frames, err
		}
		frames = append(frames, frameOf(f))
	}
}

func TestSplitter(t *testing.T) {
	for _, c := range splitterCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.err
			if want == nil {
				want = io.EOF
			}
			// Whole, and one byte per read (a pipe gives any split).
			for _, r := range []io.Reader{bytes.NewReader(c.in), iotest.OneByteReader(bytes.NewReader(c.in))} {
				frames, err := split(r, c.maxAU)
				if !errors.Is(err, want) {
					t.Errorf("error %v, want %v", err, want)
				}
				if !slices.EqualFunc(frames, c.want, func(a, b got) bool { return a.ms == b.ms && bytes.Equal(a.types, b.types) }) {
					t.Errorf("frames %v, want %v", frames, c.want)
				}
			}
		})
	}
}

// A stream ffmpeg wrote with this package's command line (libx264,
// ultra_low, 64x48, 6 fps: Params.Args on 12 raw frames): every frame
// comes out, an IDR with SPS and PPS every 6, at n*1000/6 ms.
func TestSplitterReadsFFmpegOutput(t *testing.T) {
	raw, err := os.ReadFile("testdata/x264-64x48-6fps.flv")
	if err != nil {
		t.Fatal(err)
	}
	s := newSplitter(bytes.NewReader(raw), DefaultMaxAccessUnit)
	var clock frameClock
	clock.fps = 6
	for n := uint64(0); ; n++ {
		f, err := s.next()
		if errors.Is(err, io.EOF) {
			if n != 12 {
				t.Errorf("%d frames, want 12", n)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := clock.number(f.MS); got != n {
			t.Errorf("frame %d at %d ms counts as frame %d", n, f.MS, got)
		}
		types := frameOf(f).types
		if wantIDR := n%6 == 0; f.IDR != wantIDR || (f.IDR && !bytes.HasPrefix(types, []byte{nalSPS, nalPPS})) {
			t.Errorf("frame %d: IDR %v, NAL types %v", n, f.IDR, types)
		}
	}
}

func TestFrameClock(t *testing.T) {
	for _, fps := range []uint64{1, 5, 7, 12, 15, 24, 25, 30, 50, 60, 120, 240} {
		c := frameClock{fps: fps}
		for n := range uint64(3 * fps) {
			ms := uint32((n*1000 + fps/2) / fps) // what ffmpeg writes, rounded
			if got := c.number(ms); got != n {
				t.Fatalf("%d fps: %d ms is frame %d, want %d", fps, ms, got, n)
			}
		}
	}
	// FLV keeps 31 bits of milliseconds: the count goes on across the wrap.
	c := frameClock{fps: 10}
	c.number(0x7fffff9c) // -100 ms before the wrap
	if got := c.number(0x7fffff9c + 100); got != c.n || got-((0x7fffff9c*10+500)/1000) != 1 {
		t.Errorf("before the wrap: %d", got)
	}
	before := c.n
	if got := c.number(100); got != before+1 { // the wrapped timestamp
		t.Errorf("across the wrap: frame %d after %d", got, before)
	}
}

func TestSessionPairsFramesInOrder(t *testing.T) {
	s := &session{}
	s.attach(nopWriter{})
	for i := range 4 {
		if !s.write(input{pts: msPTS(10 * (i + 1)), f: solid(2, 2, 0, 0, 0)}) {
			t.Fatal("write failed")
		}
	}
	if pts, ok, err := s.take(0); !ok || err != nil || pts != msPTS(10) {
		t.Errorf("frame 0: %v %v %v", pts, ok, err)
	}
	// Frame 1 never came out: frame 2 still gets its own pts.
	if pts, ok, err := s.take(2); !ok || err != nil || pts != msPTS(30) {
		t.Errorf("frame 2: %v %v %v", pts, ok, err)
	}
	if _, ok, err := s.take(1); ok || err != nil {
		t.Errorf("frame 1 after 2: %v %v", ok, err)
	}
	if _, _, err := s.take(4); !errors.Is(err, errCorrupt) {
		t.Errorf("a frame never written: %v", err)
	}
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) Close() error                { return nil }

func msPTS(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// FuzzSplitter: whatever ffmpeg's stdout holds, the splitter neither
// panics nor delivers an access unit that is empty, over the cap, or an
// IDR without SPS and PPS in front.
func FuzzSplitter(f *testing.F) {
	for _, c := range splitterCases {
		f.Add(c.in)
	}
	if raw, err := os.ReadFile("testdata/x264-64x48-6fps.flv"); err == nil {
		f.Add(raw)
	}
	const maxAU = 4096
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newSplitter(bytes.NewReader(in), maxAU)
		for {
			fr, err := s.next()
			if err != nil {
				return
			}
			if fr.NALUs == nil {
				continue
			}
			size := 0
			for _, n := range fr.NALUs {
				if len(n) == 0 {
					t.Fatalf("empty NAL unit in %v", frameOf(fr))
				}
				size += len(n)
			}
			if len(fr.NALUs) == 0 || size > maxAU+len(in) {
				t.Fatalf("access unit of %d NAL units, %d bytes", len(fr.NALUs), size)
			}
			types := frameOf(fr).types
			if fr.IDR && !(slices.Contains(types, nalSPS) && slices.Contains(types, nalPPS)) {
				t.Fatalf("IDR without parameter sets: %v", types)
			}
		}
	})
}

// BenchmarkSplitter: 300 frames of 720p-sized P-frames (12 KB, 4 slices)
// with an IDR (60 KB) every 30.
func BenchmarkSplitter(b *testing.B) {
	in := cat(flvHeader(), video(0, avcConfig(4, tSPS, tPPS)))
	slice := func(typ byte, n int) []byte { return append([]byte{typ}, make([]byte, n-1)...) }
	for i := range 300 {
		typ, size := byte(0x41), 3000
		if i%30 == 0 {
			typ, size = 0x65, 15000
		}
		in = append(in, video(uint32(i*33), avcFrame(4, slice(typ, size), slice(typ, size), slice(typ, size), slice(typ, size)))...)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	for b.Loop() {
		r.Reset(in)
		s := newSplitter(r, DefaultMaxAccessUnit)
		for {
			if _, err := s.next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*300), "ns/frame")
}

package testutil

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestReadAccessUnits(t *testing.T) {
	aud, sps, pps := []byte{0x09, 0xf0}, []byte{0x67, 0x42, 0x00, 0x1e}, []byte{0x68, 0xce}
	idr := []byte{0x65, 0x88, 0x00, 0x00, 0x03, 0x01, 0x80} // emulation prevention inside
	p := []byte{0x41, 0x9a}
	// 4- and 3-byte start codes, a trailing zero byte before a start code
	stream := bytes.Join([][]byte{
		{}, aud, sps, pps, idr,
	}, []byte{0, 0, 0, 1})
	stream = append(stream, 0, 0, 0, 0, 1)
	stream = append(stream, aud...)
	stream = append(stream, 0, 0, 1)
	stream = append(stream, p...)
	var got []string
	if err := ReadAccessUnits(bytes.NewReader(stream), func(au [][]byte) error {
		got = append(got, fmt.Sprintf("%x", au))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("%x", [][]byte{aud, sps, pps, idr}), fmt.Sprintf("%x", [][]byte{aud, p})}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestH264EncoderFeeds(t *testing.T) {
	enc := StartH264Encoder(t, "testsrc=size=160x120:rate=15:duration=1", 15)
	var pts []time.Duration
	idrs := 0
	n := enc.Feed(time.Second, 15, func(at time.Duration, au [][]byte) error {
		pts = append(pts, at)
		if au[0][0]&0x1f != 9 {
			t.Errorf("access unit %d does not start with an AUD: %x", len(pts)-1, au[0][:1])
		}
		for _, n := range au {
			if n[0]&0x1f == 5 {
				idrs++
				break
			}
		}
		return nil
	})
	if n != 15 || pts[0] != time.Second || pts[14] != time.Second+14*time.Second/15 || idrs != 1 {
		t.Fatalf("%d access units, %d IDRs, pts %v; ffmpeg: %s", n, idrs, pts, enc.Stderr())
	}
}

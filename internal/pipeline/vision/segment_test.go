package vision

import (
	"testing"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

func TestSegmentMask(t *testing.T) {
	for _, attach := range []bool{true, false} {
		config := `{"model_id": "rtmdet_ins_small", "categories": ["person"]}`
		if !attach {
			config = `{"attach_mask_artifacts": false}`
		}
		op := build(t, segmentType, config)
		warm(t, op, 1280, 720, 3)
		sq := square{x: 500, y: 300, size: 100}
		var out []*pipeline.Packet
		for i := range 3 {
			sq.x += 8
			p := packetAt(scene(1280, 720, sq), 300+100*i)
			out = run(op, p)
			if len(out) != 1 || out[0].Lifecycle != pipeline.Update {
				t.Fatalf("frame %d: %d packets", i, len(out))
			}
		}
		q := out[0]
		in := q.Artifacts[artOriginal]
		over := q.Artifacts[artFrame]
		if over == in {
			t.Fatal("overlay is the input frame")
		}
		inside := [][2]int{{sq.x + 5, sq.y + 5}, {sq.x + sq.size/2, sq.y + sq.size/2}, {sq.x + sq.size - 6, sq.y + sq.size - 6}}
		outside := [][2]int{{sq.x - 20, sq.y}, {sq.x + sq.size + 20, sq.y + sq.size/2}, {10, 10}, {1270, 710}}
		for _, pt := range inside {
			if pixel(over, pt[0], pt[1]) == pixel(in, pt[0], pt[1]) {
				t.Errorf("no overlay at %v", pt)
			}
		}
		for _, pt := range outside {
			if pixel(over, pt[0], pt[1]) != pixel(in, pt[0], pt[1]) {
				t.Errorf("overlay at %v", pt)
			}
		}
		mask, ok := q.Artifacts[artMask]
		if ok != attach {
			t.Fatalf("attach %v: mask present %v", attach, ok)
		}
		if !attach {
			continue
		}
		if mask.Width != 1280 || mask.Height != 720 || len(mask.Data) != 1280*720*3 {
			t.Fatal("mask size")
		}
		// The mask covers the square (to within the analysis scale) and
		// nothing far from it.
		white, black := bgr{255, 255, 255}, bgr{}
		s := scaleFor(1280, 720, bgAnalysisWidth)
		count := 0
		for y := range 720 {
			for x := range 1280 {
				in := x >= sq.x+s && x < sq.x+sq.size-s && y >= sq.y+s && y < sq.y+sq.size-s
				out := x < sq.x-s || x >= sq.x+sq.size+s || y < sq.y-s || y >= sq.y+sq.size+s
				c := pixel(mask, x, y)
				if c == white {
					count++
				}
				if in && c != white || out && c != black {
					t.Fatalf("mask at %d,%d = %v", x, y, c)
				}
			}
		}
		if count < sq.size*sq.size*8/10 {
			t.Fatalf("mask has %d white pixels", count)
		}
		if st := op.(*Segment).Status(); st.Objects != 1 || st.Method != segmentMethod {
			t.Fatalf("status %+v", st)
		}
	}
}

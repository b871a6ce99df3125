package vision

import (
	"fmt"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// seenIDs returns the ids of the tracks matched in the last frame, each
// with its box's x.
func seenIDs(tr *Track) map[int]int {
	ids := map[int]int{}
	for _, t := range tr.tracks {
		if t.seen {
			ids[t.id] = t.box.X
		}
	}
	return ids
}

func TestTrackIDs(t *testing.T) {
	op := build(t, trackType, `{"tracker_id": "simple_iou_kalman", "close_after_seconds": 1}`).(*Track)
	warm(t, op, 640, 360, 3)
	var out []*pipeline.Packet
	var f *frame.Frame
	for i := range 20 {
		squares := []square{{x: 40 + 12*i, y: 60, size: 64}}
		if i >= 8 {
			// A second square, moving the other way, far from the first.
			squares = append(squares, square{x: 560 - 10*(i-8), y: 240, size: 56, c: bgr{20, 20, 240}})
		}
		f = scene(640, 360, squares...)
		out = run(op, packetAt(f, 300+100*i))
		if len(out) != 1 {
			t.Fatalf("frame %d: %d packets in annotate mode", i, len(out))
		}
		ids := seenIDs(op)
		want := map[int]bool{1: true}
		if i >= 8 {
			want[2] = true
		}
		if len(ids) != len(want) {
			t.Fatalf("frame %d: tracks %v, want ids %v", i, ids, want)
		}
		for id := range want {
			if _, ok := ids[id]; !ok {
				t.Fatalf("frame %d: tracks %v, want ids %v", i, ids, want)
			}
		}
		if !near(ids[1], squares[0].x, 3) {
			t.Fatalf("frame %d: track 1 at x=%d, square at %d", i, ids[1], squares[0].x)
		}
	}
	// The label of track 1 is drawn above its box in its colour, with
	// black digit pixels; the outline has the colour too.
	ann := out[0].Artifacts[artFrame]
	var box Box
	for _, tr := range op.tracks {
		if tr.id == 1 {
			box = tr.box
		}
	}
	c := colourFor(1)
	if pixel(ann, box.X+1, box.Y+box.H/2) != c {
		t.Fatalf("outline of track 1 is not %v", c)
	}
	_, lh := labelSize("1")
	if pixel(ann, box.X+1, box.Y-lh+1) != c {
		t.Fatal("label background missing")
	}
	// Digit "1": middle column of the 3x5 glyph, all rows set.
	dx := box.X + labelPad + labelScale + 1
	if pixel(ann, dx, box.Y-lh+labelPad+2*labelScale+1) != (bgr{}) {
		t.Fatal("digit pixel is not black")
	}
	if colourFor(1) == colourFor(2) {
		t.Fatal("ids 1 and 2 share a colour")
	}
	if ann == f || out[0].Artifacts[artOriginal] != f {
		t.Fatal("artifacts")
	}

	// Both squares leave: tracks live for close_after_seconds, then go.
	last := 300 + 100*19
	for ms := last + 100; ms <= last+1000; ms += 100 {
		run(op, packetAt(scene(640, 360), ms))
		if len(op.tracks) != 2 {
			t.Fatalf("at +%d ms: %d tracks, want 2 until 1 s", ms-last, len(op.tracks))
		}
	}
	run(op, packetAt(scene(640, 360), last+1100))
	if len(op.tracks) != 0 {
		t.Fatalf("after close_after_seconds: %d tracks", len(op.tracks))
	}
	// A new object gets a new id.
	for i := range 3 {
		run(op, packetAt(scene(640, 360, square{x: 200 + 10*i, y: 100, size: 64}), last+1200+100*i))
	}
	if ids := seenIDs(op); len(ids) != 1 || ids[3] == 0 {
		t.Fatalf("new object: tracks %v, want id 3", ids)
	}
}

func TestTrackEvents(t *testing.T) {
	op := build(t, trackType, `{"close_after_seconds": 0.5, "emit_mode": "events"}`)
	// present[i]: whether frame i (100 ms apart) shows the square.
	present := []bool{false, false, true, true, true, false, true, false, false, false, false, false, false, false, true}
	var got []string
	for i, on := range present {
		f := scene(640, 360)
		if on {
			f = scene(640, 360, square{x: 100 + 10*i, y: 100, size: 64})
		}
		for _, q := range run(op, packetAt(f, 100*i)) {
			got = append(got, fmt.Sprintf("%d:%s", i, q.Lifecycle))
		}
	}
	// Open at 2; the gap at 5 is bridged; last seen at 6 (600 ms); the
	// track is dropped at the first frame more than 500 ms later: 12
	// (1200 ms); reopened at 14.
	want := "2:open 3:update 4:update 5:update 6:update 7:update 8:update 9:update 10:update 11:update 12:close 14:open"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("got %q\nwant %q", s, want)
	}
}

func TestDetectThenTrackSharesDetections(t *testing.T) {
	env := "shared"
	det := newDetectWith(detectConfig{ConfidenceThreshold: 0.55, EmitMode: modeAnnotate}, env, NewMotionDetector(0.55))
	tr := newTrackWith(trackConfig{CloseAfterSeconds: 5, EmitMode: modeAnnotate}, env, NewMotionDetector(0.55))
	for i := range 10 {
		f := scene(640, 360)
		if i >= 3 {
			f = scene(640, 360, square{x: 100 + 10*i, y: 100, size: 64})
		}
		for _, p := range run(det, packetAt(f, 100*i)) {
			out := run(tr, p)
			if len(out) != 1 || out[0].Artifacts[artOriginal] != f {
				t.Fatalf("frame %d: track output", i)
			}
			// Track draws on the original, not on detect's annotation.
			if pixel(out[0].Artifacts[artFrame], 5, 5) != pixel(f, 5, 5) {
				t.Fatal("changed pixel far from the boxes")
			}
		}
	}
	if tr.cached != 10 {
		t.Fatalf("track used the cache for %d of 10 frames", tr.cached)
	}
	if ids := seenIDs(tr); len(ids) != 1 || ids[1] == 0 {
		t.Fatalf("tracks %v", ids)
	}
	// Another pipeline's track does not see these entries.
	other := newTrackWith(trackConfig{CloseAfterSeconds: 5, EmitMode: modeAnnotate}, "other", NewMotionDetector(0.55))
	f := scene(640, 360)
	for _, p := range run(det, packetAt(f, 2000)) {
		run(other, p)
	}
	if other.cached != 0 {
		t.Fatal("cache crossed pipelines")
	}
}

func TestIoU(t *testing.T) {
	tests := []struct {
		a, b Box
		want float64
	}{
		{Box{X: 0, Y: 0, W: 10, H: 10}, Box{X: 0, Y: 0, W: 10, H: 10}, 1},
		{Box{X: 0, Y: 0, W: 10, H: 10}, Box{X: 5, Y: 0, W: 10, H: 10}, 50.0 / 150},
		{Box{X: 0, Y: 0, W: 10, H: 10}, Box{X: 10, Y: 0, W: 10, H: 10}, 0},
		{Box{X: 0, Y: 0, W: 0, H: 0}, Box{X: 0, Y: 0, W: 0, H: 0}, 0},
	}
	for _, tc := range tests {
		if got := iou(tc.a, tc.b); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("iou(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

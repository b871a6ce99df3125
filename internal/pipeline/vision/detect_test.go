package vision

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// warm feeds n background-only frames of size w x h, 100 ms apart from ms 0.
func warm(t *testing.T, op pipeline.Operator, w, h, n int) {
	t.Helper()
	for i := range n {
		run(op, packetAt(scene(w, h), 100*i))
	}
}

func TestMotionDetectorFindsSquare(t *testing.T) {
	tests := []struct {
		w, h int
		sq   square
	}{
		{1280, 720, square{x: 400, y: 200, size: 120}},
		{1280, 720, square{x: 1001, y: 533, size: 77}},
		{640, 360, square{x: 100, y: 50, size: 60}},
		{1920, 1080, square{x: 1700, y: 900, size: 150}},
		{333, 251, square{x: 40, y: 30, size: 50}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			d := NewMotionDetector(0.55)
			for range 3 {
				if boxes := d.Detect(scene(tc.w, tc.h)); len(boxes) != 0 {
					t.Fatalf("background frame: %v", boxes)
				}
			}
			// The square moves slowly over a few frames.
			var boxes []Box
			sq := tc.sq
			for i := range 4 {
				sq.x = tc.sq.x + 4*i
				boxes = d.Detect(scene(tc.w, tc.h, sq))
			}
			if len(boxes) != 1 {
				t.Fatalf("got %d boxes %v, want 1", len(boxes), boxes)
			}
			b := boxes[0]
			tol := scaleFor(tc.w, tc.h, bgAnalysisWidth) + 1
			if !near(b.X, sq.x, tol) || !near(b.Y, sq.y, tol) || !near(b.X+b.W, sq.x+sq.size, tol) || !near(b.Y+b.H, sq.y+sq.size, tol) {
				t.Fatalf("box %+v, want about %d,%d size %d (tolerance %d)", b, sq.x, sq.y, sq.size, tol)
			}
			if b.Score < 0.9 || b.Label != "motion" {
				t.Fatalf("box %+v: want a high score and label motion", b)
			}
		})
	}
}

func TestMotionDetectorSceneChange(t *testing.T) {
	d := NewMotionDetector(0.55)
	d.Detect(scene(640, 360))
	d.Detect(scene(640, 360))
	// The light goes on: everything brighter by 80.
	bright := scene(640, 360)
	for i := range bright.Data {
		bright.Data[i] = uint8(min(int(bright.Data[i])+80, 255))
	}
	if boxes := d.Detect(bright); len(boxes) != 0 {
		t.Fatalf("scene change gave %v", boxes)
	}
	if boxes := d.Detect(bright); len(boxes) != 0 {
		t.Fatalf("after relearning: %v", boxes)
	}
}

func TestDetectAnnotate(t *testing.T) {
	op := build(t, detectType, `{"model_id": "rfdetr_det_medium", "categories": ["Person", "person", " car "], "confidence_threshold": 0.5}`)
	warm(t, op, 1280, 720, 3)
	sq := square{x: 400, y: 200, size: 120}
	var out []*pipeline.Packet
	var in *frame.Frame
	for i := range 3 {
		sq.x += 8
		in = scene(1280, 720, sq)
		saved := bytes.Clone(in.Data)
		p := packetAt(in, 300+100*i)
		p.Lifecycle = pipeline.Open
		out = run(op, p)
		if !bytes.Equal(in.Data, saved) {
			t.Fatal("input frame modified")
		}
	}
	if len(out) != 1 || out[0].Lifecycle != pipeline.Open {
		t.Fatalf("annotate mode: got %d packets", len(out))
	}
	q := out[0]
	if q.Artifacts[artOriginal] != in {
		t.Fatal("frame_original is not the input frame")
	}
	ann := q.Artifacts[artFrame]
	if ann == in || ann.Width != 1280 || ann.Height != 720 {
		t.Fatal("annotated frame is not a new frame of the input size")
	}
	// The outline runs along the square's edges (within the analysis
	// scale), in green; the inside and far outside are untouched.
	for _, pt := range [][2]int{{sq.x + 1, sq.y + sq.size/2}, {sq.x + sq.size/2, sq.y + 1}, {sq.x + sq.size - 2, sq.y + sq.size/2}} {
		if got := pixel(ann, pt[0], pt[1]); got != detectColour {
			t.Errorf("outline pixel %v = %v, want green", pt, got)
		}
	}
	for _, pt := range [][2]int{{sq.x + sq.size/2, sq.y + sq.size/2}, {50, 50}, {1200, 700}} {
		if pixel(ann, pt[0], pt[1]) != pixel(in, pt[0], pt[1]) {
			t.Errorf("pixel %v changed", pt)
		}
	}
	st := op.(*Detect).Status()
	if st.Method != detectMethod || st.Objects != 1 || st.Frames != 6 || st.Emitted != 6 ||
		strings.Join(st.Categories, ",") != "person,car" || st.ModelID != "rfdetr_det_medium" {
		t.Fatalf("status %+v", st)
	}
}

// fakeDetector returns fixed boxes: a model plugged in through Detector.
type fakeDetector struct{ boxes []Box }

func (f fakeDetector) Detect(*frame.Frame) []Box { return f.boxes }

func TestDetectPluggableDetector(t *testing.T) {
	op := newDetectWith(detectConfig{EmitMode: modeAnnotate}, "", fakeDetector{[]Box{{X: 10, Y: 20, W: 30, H: 40, Score: 0.9, Label: "person"}}})
	out := run(op, packetAt(scene(100, 100), 0))
	if len(out) != 1 || pixel(out[0].Artifacts[artFrame], 10, 30) != detectColour || pixel(out[0].Artifacts[artFrame], 39, 59) != detectColour {
		t.Fatal("the plugged detector's box is not drawn")
	}
}

func TestDetectEvents(t *testing.T) {
	op := build(t, detectType, `{"emit_mode": "events"}`)
	// present[i]: whether frame i shows the (moving) square.
	present := []bool{false, false, false, true, true, true, false, false, true, true, false}
	var got []string
	for i, on := range present {
		f := scene(640, 360)
		if on {
			f = scene(640, 360, square{x: 100 + 10*i, y: 100, size: 64})
		}
		for _, q := range run(op, packetAt(f, 100*i)) {
			got = append(got, fmt.Sprintf("%d:%s", i, q.Lifecycle))
			if q.Artifacts[artOriginal] != f {
				t.Fatalf("frame %d: frame_original is not the input", i)
			}
		}
	}
	want := "3:open 4:update 5:update 6:close 8:open 9:update 10:close"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("got %q want %q", s, want)
	}
	// An input close ends an open event.
	run(op, packetAt(scene(640, 360, square{x: 300, y: 100, size: 64}), 1100))
	p := packetAt(scene(640, 360, square{x: 310, y: 100, size: 64}), 1200)
	p.Lifecycle = pipeline.Close
	if out := run(op, p); len(out) != 1 || out[0].Lifecycle != pipeline.Close {
		t.Fatalf("input close: %v", out)
	}
}

package vision

import (
	"fmt"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// step is one input frame of a motion gate scenario: at ms, with the square
// at x (-1: no square).
type step struct {
	ms, x int
}

// gateSteps builds a scenario at 10 fps: idle static frames, then the
// square moving 24 px per frame, then static frames with the square
// parked, each phase n frames long.
func gateSteps(idle, moving, still int) []step {
	var s []step
	ms := 0
	for range idle {
		s = append(s, step{ms, -1})
		ms += 100
	}
	x := 40
	for range moving {
		s = append(s, step{ms, x})
		x += 24
		ms += 100
	}
	for range still {
		s = append(s, step{ms, x - 24})
		ms += 100
	}
	return s
}

// trace runs the steps through op and returns "index:lifecycle" of each
// emitted packet.
func trace(t *testing.T, op pipeline.Operator, steps []step) string {
	t.Helper()
	var got []string
	for i, s := range steps {
		f := scene(640, 360)
		if s.x >= 0 {
			f = scene(640, 360, square{x: s.x, y: 120, size: 96})
		}
		p := packetAt(f, s.ms)
		for _, q := range run(op, p) {
			if q.Artifacts[artFrame] != f {
				t.Fatalf("step %d: emitted packet does not carry the input frame", i)
			}
			if !q.Time.Equal(p.Time) {
				t.Fatalf("step %d: time changed", i)
			}
			got = append(got, fmt.Sprintf("%d:%s", i, q.Lifecycle))
		}
	}
	return strings.Join(got, " ")
}

func TestMotionGate(t *testing.T) {
	// Steps: 0-2 idle, 3-7 moving (3 is the first frame differing from the
	// previous), 8-... still.
	tests := []struct {
		name   string
		config string
		steps  []step
		want   string
	}{
		{
			name:   "defaults: open after 2 frames, close after 6 s",
			config: `{}`,
			steps:  gateSteps(3, 5, 70),
			// motion at 3..7 (3 = square appears), open at 4; last motion
			// at step 7 (700 ms); close at the first frame >= 6700 ms:
			// step 67; 68.. dropped.
			want: "4:open 5:update 6:update 7:update " + updates(8, 66) + " 67:close",
		},
		{
			name:   "activation 4, hold 1s",
			config: `{"activation_frames": 4, "hold_seconds": 1}`,
			steps:  gateSteps(3, 5, 20),
			// motion 3..7, open at 6 (4th), last motion 700 ms, close at
			// 1700 ms = step 17.
			want: "6:open 7:update " + updates(8, 16) + " 17:close",
		},
		{
			name:   "activation 1, hold 0",
			config: `{"activation_frames": 1, "hold_seconds": 0}`,
			steps:  gateSteps(3, 3, 5),
			want:   "3:open 4:update 5:update 6:close",
		},
		{
			name:   "motion too short to open",
			config: `{"activation_frames": 3}`,
			steps:  append(gateSteps(3, 2, 3), gateSteps(0, 2, 3)...),
			want:   "",
		},
		{
			name:   "threshold above the change",
			config: `{"threshold": 0.5}`,
			steps:  gateSteps(3, 10, 3),
			want:   "",
		},
		{
			name:   "emit_when_idle: idle frames as update, event still opens and closes",
			config: `{"emit_when_idle": true, "hold_seconds": 0.5}`,
			steps:  gateSteps(3, 4, 10),
			// 0-3 idle updates (3 has motion but streak 1), open at 4,
			// motion to 6 (600 ms), close at 1100 ms = step 11, then idle
			// updates again without a new open.
			want: "0:update 1:update 2:update 3:update 4:open 5:update 6:update " + updates(7, 10) + " 11:close " + updates(12, 16),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := build(t, motionGateType, tc.config)
			if got := trace(t, op, tc.steps); got != tc.want {
				t.Errorf("emitted\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// updates returns "i:update" for i in from..to.
func updates(from, to int) string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("%d:update", i))
	}
	return strings.Join(s, " ")
}

func TestMotionGateReopensAndCloseInput(t *testing.T) {
	op := build(t, motionGateType, `{"hold_seconds": 0.2}`)
	steps := append(gateSteps(2, 3, 4), gateSteps(0, 3, 0)...)
	for i := range steps {
		steps[i].ms = 100 * i
	}
	// motion 2..4 → open 3; still 5..8: last motion 400 ms, close at
	// 600 ms = 6; then the square jumps back to x=40 and moves: 9..11
	// motion, open again at 10.
	if got, want := trace(t, op, steps), "3:open 4:update 5:update 6:close 10:open 11:update"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	// An input close ends the open event with one close packet.
	closing := packetAt(scene(640, 360), 1200)
	closing.Lifecycle = pipeline.Close
	out := run(op, closing)
	if len(out) != 1 || out[0].Lifecycle != pipeline.Close {
		t.Fatalf("input close: got %d packets", len(out))
	}
	if out := run(op, closing); len(out) != 0 {
		t.Fatalf("second close emitted %d packets", len(out))
	}
	st := op.(*MotionGate).Status()
	if st.Method != "frame_difference" || st.EventOpen || st.ChangedFraction <= 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestMotionGateClockBack(t *testing.T) {
	op := build(t, motionGateType, `{"activation_frames": 1, "hold_seconds": 1}`)
	steps := gateSteps(1, 2, 0)
	for i := range steps {
		steps[i].ms = 3_600_000 + 100*i // an hour in
	}
	// The source restarts with a clock an hour behind: the hold counts
	// from the first frame of the new clock, not from the old last motion.
	steps = append(steps, step{0, 64}, step{500, 64}, step{1000, 64}, step{1100, 64})
	if got, want := trace(t, op, steps), "1:open 2:update 3:update 4:update 5:close"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

package vision

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// t0 is the time of the first synthetic frame.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// square is a filled square drawn on the synthetic scene.
type square struct {
	x, y, size int
	c          bgr
}

// scene returns a w x h frame: a static textured background (gradients and
// a fixed checker pattern, identical in every frame) with the squares drawn
// on top.
func scene(w, h int, squares ...square) *frame.Frame {
	data := make([]byte, w*h*3)
	for y := range h {
		for x := range w {
			i := 3 * (y*w + x)
			v := 60 + 60*x/w + 40*y/h
			if (x/40+y/40)%2 == 0 {
				v += 15
			}
			data[i], data[i+1], data[i+2] = uint8(v), uint8(v+10), uint8(v-10)
		}
	}
	f := &frame.Frame{Width: w, Height: h, Data: data}
	for _, s := range squares {
		c := s.c
		if c == (bgr{}) {
			c = bgr{230, 240, 250}
		}
		fillRect(f, s.x, s.y, s.x+s.size, s.y+s.size, c)
	}
	return f
}

// packetAt wraps f in an "update" packet at t0 + ms milliseconds.
func packetAt(f *frame.Frame, ms int) *pipeline.Packet {
	return &pipeline.Packet{Artifacts: map[string]*frame.Frame{artFrame: f}, Time: t0.Add(time.Duration(ms) * time.Millisecond), Lifecycle: pipeline.Update}
}

// build makes an operator of type typ from a JSON config through the
// registry, as the runner does.
func build(t testing.TB, typ, config string) pipeline.Operator {
	t.Helper()
	info, ok := pipeline.Lookup(typ)
	if !ok {
		t.Fatalf("%s not registered", typ)
	}
	op, err := info.Factory(json.RawMessage(config), pipeline.Env{Pipeline: "test-" + t.Name(), Node: "n"})
	if err != nil {
		t.Fatalf("%s %s: %v", typ, config, err)
	}
	return op.(pipeline.Operator)
}

// run feeds p to op and returns what it emitted.
func run(op pipeline.Operator, p *pipeline.Packet) []*pipeline.Packet {
	var out []*pipeline.Packet
	op.Process(context.Background(), p, func(q *pipeline.Packet) { out = append(out, q) })
	return out
}

// pixel returns the colour of (x, y).
func pixel(f *frame.Frame, x, y int) bgr {
	i := 3 * (y*f.Width + x)
	return bgr{f.Data[i], f.Data[i+1], f.Data[i+2]}
}

// near reports whether a and b differ by at most tol.
func near(a, b, tol int) bool { return a-b <= tol && b-a <= tol }

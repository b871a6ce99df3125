package vision

import (
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// benchFrames returns 1280x720 frames of a square moving 16 px per frame
// (with a second, smaller one) so every Process call has motion to find.
func benchFrames() []*frame.Frame {
	frames := make([]*frame.Frame, 8)
	for i := range frames {
		frames[i] = scene(1280, 720,
			square{x: 200 + 16*i, y: 200, size: 160},
			square{x: 900 - 12*i, y: 420, size: 90, c: bgr{20, 20, 240}})
	}
	return frames
}

func benchOperator(b *testing.B, typ, config string) {
	op := build(b, typ, config)
	frames := benchFrames()
	emit := func(*pipeline.Packet) {}
	// Warm up: learn the background, open events.
	for i := range 16 {
		op.Process(b.Context(), packetAt(frames[i%len(frames)], 66*i), emit)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 16
	for b.Loop() {
		op.Process(b.Context(), packetAt(frames[i%len(frames)], 66*i), emit)
		i++
	}
}

func BenchmarkMotionGate720p(b *testing.B) { benchOperator(b, motionGateType, `{}`) }
func BenchmarkDetect720p(b *testing.B)     { benchOperator(b, detectType, `{}`) }
func BenchmarkTrack720p(b *testing.B)      { benchOperator(b, trackType, `{}`) }
func BenchmarkSegment720p(b *testing.B)    { benchOperator(b, segmentType, `{}`) }

// BenchmarkDetectThenTrack720p is the tracking preset: vision.detect then
// vision.track reusing its boxes.
func BenchmarkDetectThenTrack720p(b *testing.B) {
	det := build(b, detectType, `{}`)
	tr := build(b, trackType, `{}`)
	frames := benchFrames()
	emit := func(p *pipeline.Packet) { tr.Process(b.Context(), p, func(*pipeline.Packet) {}) }
	for i := range 16 {
		det.Process(b.Context(), packetAt(frames[i%len(frames)], 66*i), emit)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 16
	for b.Loop() {
		det.Process(b.Context(), packetAt(frames[i%len(frames)], 66*i), emit)
		i++
	}
}

// BenchmarkDownscale720p is the shared analysis step alone.
func BenchmarkDownscale720p(b *testing.B) {
	f := benchFrames()[0]
	var g grayImage
	b.ReportAllocs()
	for b.Loop() {
		g.load(f, bgAnalysisWidth)
	}
}

package bridge

import (
	"io"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// BenchmarkPumpFrame is the per-frame work of a running publisher when every
// tick brings a new 1920x1080 source frame for a 1280x720 output: select,
// contain resize into a reused buffer, hand over (to io.Discard here).
//
//	go test -run '^$' -bench PumpFrame -benchmem ./internal/bridge/
func BenchmarkPumpFrame(b *testing.B) {
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	src := make([]*frame.Frame, 2)
	for i := range src {
		data := make([]byte, 1920*1080*3)
		for j := range data {
			data[j] = byte(j*7 + i*31)
		}
		src[i] = &frame.Frame{Width: 1920, Height: 1080, Data: data}
	}
	p := newPump(encoding{transmissionID: "t", width: 1280, height: 720, fps: 30, placeholder: model.PlaceholderGray}, selected{arb, "t"}, discard{}, time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		arb.Publish("t", "w", arbiter.Update, 0, src[i%2])
		p.tick(time.Duration(i))
	}
}

type discard struct{}

func (discard) WriteFrame(_ time.Duration, f *frame.Frame) error {
	_, err := io.Discard.Write(f.Data)
	return err
}

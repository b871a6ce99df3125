package streamwriter

import (
	"bytes"
	"testing"

	"github.com/toposync/toposync-streaming/internal/arbiter"
)

func TestWriterLifecycle(t *testing.T) {
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	low := Open(arb, "t", "pipe:low", 0)
	high := Open(arb, "t", "pipe:high", 5)

	pixels := bytes.Repeat([]byte{0, 0, 255}, 4*2)
	if active, err := low.WriteBGR(4, 2, pixels); err != nil || active != "pipe:low" {
		t.Fatalf("first write: %q, %v", active, err)
	}
	pixels[0] = 99 // the runtime holds a copy, not the caller's buffer
	if got := arb.Select("t").Frame.Data[0]; got != 0 {
		t.Errorf("the published frame changed with the caller's buffer: %d", got)
	}
	if _, err := high.WriteBGR(4, 2, pixels[:5]); err == nil {
		t.Error("a short buffer was accepted")
	}
	if _, err := high.WriteBGR(4, 2, pixels); err != nil {
		t.Fatal(err)
	}
	if active := high.Close(); active != "pipe:low" {
		t.Errorf("after closing the high writer: %q, want pipe:low", active)
	}
	low.SetPriority(9)
	if active, _ := low.WriteBGR(4, 2, pixels); active != "pipe:low" {
		t.Errorf("active %q", active)
	}
	if st := arb.Snapshot()["t"].Writers["pipe:low"]; st.Priority != 9 || st.Lifecycle != arbiter.Update {
		t.Errorf("writer state %+v", st)
	}
	low.Close()
	if s := arb.Select("t"); s.Frame != nil {
		t.Error("closed writers still shown")
	}
}

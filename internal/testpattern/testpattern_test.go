package testpattern

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func probe(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=width", "-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if string(out) != "640\n" {
		return fmt.Errorf("width %q, want 640", out)
	}
	return nil
}

// The pattern plays at the test URL, follows the engine to a new port, and
// gives the path up to a transmission that takes it over.
func TestPatternFollowsTheEngineState(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ffmpeg, _ := exec.LookPath("ffmpeg")
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := testutil.FreePorts(t, 5)
	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.Enabled = true
		s.Engine.ReaderHoldSeconds = 2 // the last probe finds no publisher
		s.Engine.PreferredPorts = model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := &engine.Manager{Store: st, Kinds: map[string]engine.Kind{model.EngineEmbedded: embedded.Kind{Logger: nil}}, ServerID: model.LocalHost, RuntimeDir: filepath.Join(dir, "runtime")}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pattern := &Pattern{Engine: m, FFmpeg: ffmpeg, LogLevel: "error"}
	if err := pattern.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer pattern.Close()

	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[0])); err != nil {
		t.Fatalf("test pattern: %v", err)
	}
	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.PreferredPorts.RTSP = p[4]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the engine on the new port", func() bool { return m.State().Ports.RTSP == p[4] })
	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[4])); err != nil {
		t.Fatalf("test pattern after the port change: %v", err)
	}

	tr, err := model.DecodeTransmission([]byte(`{"id":"taker","name":"Taker","path":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	tr.StampMissing(time.Now())
	if _, err := st.Update(func(s *model.Settings) error {
		s.Transmissions = append(s.Transmissions, tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the path taken over", func() bool { return !m.State().TestPatternServed() })
	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[4])); err == nil {
		t.Fatal("the pattern still publishes into a path a transmission took over")
	}
}

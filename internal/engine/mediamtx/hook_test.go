package mediamtx

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

func startHook(t *testing.T, socket, path string) *exec.Cmd {
	t.Helper()
	// This test binary acts as the hook (see TestMain), a separate process
	// as the one MediaMTX would start.
	cmd := exec.Command(os.Args[0], HookCommand, "--socket", socket)
	cmd.Env = append(os.Environ(), "MTX_PATH="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

func TestHookHoldsDemandWhileItRuns(t *testing.T) {
	q := engine.NewDemandQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h, err := listenHook(t.TempDir(), q.Set, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if info, err := os.Stat(h.path()); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v mode %v", err, info.Mode())
	}
	next := func() engine.DemandEvent {
		select {
		case ev := <-q.Out():
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no demand event")
			return engine.DemandEvent{}
		}
	}

	first := startHook(t, h.path(), "yard")
	if ev := next(); ev != (engine.DemandEvent{Path: "yard", Demanded: true}) {
		t.Fatalf("first event %+v", ev)
	}
	second := startHook(t, h.path(), "yard") // a second hook of the same path: no new event
	testutil.Eventually(t, 5*time.Second, "two hooks counted", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.count["yard"] == 2
	})
	_ = first.Process.Signal(syscall.SIGTERM) // MediaMTX stops a hook this way
	if err := first.Wait(); err != nil {
		t.Fatalf("hook exit on SIGTERM: %v", err)
	}
	if !h.demanded("yard") {
		t.Fatal("demand ended while a hook still runs")
	}
	_ = second.Process.Signal(syscall.SIGINT)
	_ = second.Wait()
	if ev := next(); ev != (engine.DemandEvent{Path: "yard", Demanded: false}) {
		t.Fatalf("last event %+v", ev)
	}
}

func TestHookSocketPathTooLongMovesToAPrivateDir(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	h, err := listenHook(long, func(string, bool) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(h.path())
	if len(h.path()) > maxSocketPath {
		t.Fatalf("socket path %d bytes", len(h.path()))
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("private dir %v %v", err, info.Mode())
	}
	h.close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private dir left behind: %v", err)
	}
}

func TestHookRefusesMissingPath(t *testing.T) {
	var stderr bytes.Buffer
	if code := RunHook([]string{"--socket", "/nonexistent"}, func(string) string { return "" }, &stderr); code != 2 || !strings.Contains(stderr.String(), "MTX_PATH") {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
}

// A refused path's hooks print the reason on one line (MediaMTX logs it)
// and exit, and refuse returns once they did; hooks of other paths stay.
func TestHookRefusalPrintsTheReasonAndEnds(t *testing.T) {
	h, err := listenHook(t.TempDir(), func(string, bool) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	var stderr testutil.SyncBuffer
	refused := exec.Command(os.Args[0], HookCommand, "--socket", h.path())
	refused.Env = append(os.Environ(), "MTX_PATH=yard")
	refused.Stderr = &stderr
	if err := refused.Start(); err != nil {
		t.Fatal(err)
	}
	other := startHook(t, h.path(), "gate")
	testutil.Eventually(t, 5*time.Second, "both hooks connected", func() bool { return h.demanded("yard") && h.demanded("gate") })
	h.refuse("yard", "ffmpeg is missing:\nset TOPOSYNC_STREAMING_FFMPEG_PATH")
	if h.demanded("yard") {
		t.Fatal("refuse returned while the hook still runs")
	}
	if err := refused.Wait(); err == nil {
		t.Error("a refused hook exited 0")
	}
	if got, want := stderr.String(), "toposync-streaming cannot publish path yard: ffmpeg is missing: set TOPOSYNC_STREAMING_FFMPEG_PATH\n"; got != want {
		t.Errorf("hook printed %q, want %q", got, want)
	}
	if !h.demanded("gate") || other.ProcessState != nil {
		t.Error("the hook of another path ended")
	}
}

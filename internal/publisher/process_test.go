package publisher

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func TestRestartsAfterSIGKILL(t *testing.T) {
	p := Start(Spec{Name: "sleeper", Binary: "sleep", Args: []string{"30"}}, Supervision{})
	defer p.Stop()
	waitFor(t, 5*time.Second, "first start", func() bool { return p.Status().Running })
	first := p.Status().PID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "restart after SIGKILL", func() bool {
		st := p.Status()
		return st.Running && st.PID != first
	})
	if st := p.Status(); st.Restarts != 1 || !strings.Contains(st.LastError, "killed") {
		t.Errorf("status after restart = %+v", st)
	}
}

func TestRestartBudgetHolds(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "spawns")
	// Each spawn appends a line, then fails at once.
	p := Start(Spec{Name: "crasher", Binary: "sh", Args: []string{"-c", "echo x >> " + counter + "; exit 3"}},
		Supervision{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Budget: 3, BudgetSpan: 3 * time.Second})
	defer p.Stop()
	waitFor(t, 3*time.Second, "budget exhaustion", func() bool { return p.Status().BudgetPaused })
	time.Sleep(500 * time.Millisecond) // a spinning supervisor would spawn dozens of times here
	raw, _ := os.ReadFile(counter)
	if spawns := strings.Count(string(raw), "x"); spawns != 4 {
		t.Errorf("%d spawns inside the budget span, want 1 + 3 restarts", spawns)
	}
	if st := p.Status(); !strings.Contains(st.LastError, "exit status 3") {
		t.Errorf("last error = %q", st.LastError)
	}
	// Once the span has passed, it tries again.
	waitFor(t, 5*time.Second, "restart after the span", func() bool {
		raw, _ := os.ReadFile(counter)
		return strings.Count(string(raw), "x") > 4
	})
}

func TestSecretsAreRedacted(t *testing.T) {
	dir := t.TempDir()
	secret := "pub_0123456789ab:s3cr3tpassword"
	p := Start(Spec{
		Name: "Talker 1", Binary: "sh", Args: []string{"-c", `echo "url rtsp://$0@127.0.0.1/x" >&2; exec sleep 30`, secret},
		Secrets: []string{secret},
	}, Supervision{LogDir: dir})
	defer p.Stop()
	waitFor(t, 5*time.Second, "stderr line", func() bool { return len(p.Status().StderrTail) > 0 })
	st := p.Status()
	if !strings.Contains(st.StderrTail[0], "rtsp://***@127.0.0.1/x") {
		t.Errorf("tail = %q", st.StderrTail)
	}
	if !strings.HasPrefix(filepath.Base(st.LogPath), "ffmpeg-talker-1-") {
		t.Errorf("log path = %s", st.LogPath)
	}
	p.Stop()
	raw, err := os.ReadFile(st.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cr3t") || !strings.Contains(string(raw), "***") {
		t.Errorf("log file:\n%s", raw)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	p := Start(Spec{Name: "stubborn", Binary: "sh", Args: []string{"-c", `trap "" TERM; echo ready >&2; while :; do sleep 0.05; done`}},
		Supervision{StopTimeout: 300 * time.Millisecond})
	waitFor(t, 5*time.Second, "start", func() bool { return len(p.Status().StderrTail) > 0 })
	pid := p.Status().PID
	start := time.Now()
	p.Stop()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %v", took)
	}
	if alive(pid) {
		t.Errorf("process %d survived Stop", pid)
	}
	if p.Status().Running {
		t.Error("status still running")
	}
}

func TestLogFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	p := Start(Spec{Name: "flaky", Binary: "sh", Args: []string{"-c", "echo boom >&2; exit 1"}},
		Supervision{LogDir: dir, KeepLogs: 2, BackoffMin: 5 * time.Millisecond, BackoffMax: 5 * time.Millisecond, Budget: 100})
	waitFor(t, 5*time.Second, "several restarts", func() bool { return p.Status().Restarts >= 5 })
	p.Stop()
	files, _ := filepath.Glob(filepath.Join(dir, "ffmpeg-flaky-*.log"))
	if len(files) > 2 {
		t.Errorf("%d log files kept, want at most 2", len(files))
	}
}

func TestFindFFmpeg(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvFFmpegPath {
				return v
			}
			return ""
		}
	}
	if _, err := FindFFmpeg(env("/nonexistent/ffmpeg")); err == nil || !strings.Contains(err.Error(), EnvFFmpegPath) {
		t.Errorf("missing override: %v", err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindFFmpeg(env(dir)); err != nil || got != fake {
		t.Errorf("directory override = %q, %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindFFmpeg(env("")); err == nil || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Errorf("no ffmpeg on PATH: %v", err)
	}
}

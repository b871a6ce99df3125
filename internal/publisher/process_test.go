package publisher

import (
	"errors"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start initializes a Process; the test closes it.
func start(t *testing.T, spec Spec, sup Supervision) *Process {
	t.Helper()
	p := &Process{Spec: spec, Supervision: sup}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or the deadline passes.

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func TestRestartsAfterSIGKILL(t *testing.T) {
	p := start(t, Spec{Name: "sleeper", Binary: "sleep", Args: []string{"30"}}, Supervision{})
	defer p.Close()
	testutil.Eventually(t, 5*time.Second, "first start", func() bool { return p.Status().Running })
	first := p.Status().PID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "restart after SIGKILL", func() bool {
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
	p := start(t, Spec{Name: "crasher", Binary: "sh", Args: []string{"-c", "echo x >> " + counter + "; exit 3"}},
		Supervision{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Budget: 3, BudgetSpan: 3 * time.Second})
	defer p.Close()
	testutil.Eventually(t, 3*time.Second, "budget exhaustion", func() bool { return p.Status().BudgetPaused })
	time.Sleep(500 * time.Millisecond) // a spinning supervisor would spawn dozens of times here
	raw, _ := os.ReadFile(counter)
	if spawns := strings.Count(string(raw), "x"); spawns != 4 {
		t.Errorf("%d spawns inside the budget span, want 1 + 3 restarts", spawns)
	}
	if st := p.Status(); !strings.Contains(st.LastError, "exit status 3") {
		t.Errorf("last error = %q", st.LastError)
	}
	// Once the span has passed, it tries again.
	testutil.Eventually(t, 5*time.Second, "restart after the span", func() bool {
		raw, _ := os.ReadFile(counter)
		return strings.Count(string(raw), "x") > 4
	})
}

func TestSecretsAreRedacted(t *testing.T) {
	dir := t.TempDir()
	secret := "pub_0123456789ab:s3cr3tpassword"
	hooked := make(chan string, 1)
	p := start(t, Spec{
		Name: "Talker 1", Binary: "sh", Args: []string{"-c", `echo "url rtsp://$0@127.0.0.1/x" >&2; exec sleep 30`, secret},
		Secrets:      []string{secret},
		OnStderrLine: func(line string) { hooked <- line },
	}, Supervision{LogDir: dir})
	testutil.Eventually(t, 5*time.Second, "stderr line", func() bool { return len(p.Status().StderrTail) > 0 })
	st := p.Status()
	if !strings.Contains(st.StderrTail[0], "rtsp://***@127.0.0.1/x") {
		t.Errorf("tail = %q", st.StderrTail)
	}
	if line := <-hooked; line != st.StderrTail[0] {
		t.Errorf("OnStderrLine got %q", line)
	}
	if !strings.HasPrefix(filepath.Base(st.LogPath), "ffmpeg-talker-1-") {
		t.Errorf("log path = %s", st.LogPath)
	}
	p.Close()
	raw, err := os.ReadFile(st.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cr3t") || !strings.Contains(string(raw), "***") {
		t.Errorf("log file:\n%s", raw)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	p := start(t, Spec{Name: "stubborn", Binary: "sh", Args: []string{"-c", `trap "" TERM; echo ready >&2; while :; do sleep 0.05; done`}},
		Supervision{StopTimeout: 300 * time.Millisecond})
	testutil.Eventually(t, 5*time.Second, "start", func() bool { return len(p.Status().StderrTail) > 0 })
	pid := p.Status().PID
	began := time.Now()
	p.Close()
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Close took %v", took)
	}
	if alive(pid) {
		t.Errorf("process %d survived Close", pid)
	}
	if p.Status().Running {
		t.Error("status still running")
	}
}

func TestLogFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	p := start(t, Spec{Name: "flaky", Binary: "sh", Args: []string{"-c", "echo boom >&2; exit 1"}},
		Supervision{LogDir: dir, KeepLogs: 2, BackoffMin: 5 * time.Millisecond, BackoffMax: 5 * time.Millisecond, Budget: 100})
	testutil.Eventually(t, 5*time.Second, "several restarts", func() bool { return p.Status().Restarts >= 5 })
	p.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "ffmpeg-flaky-*.log"))
	if len(files) > 2 {
		t.Errorf("%d log files kept, want at most 2", len(files))
	}
}

func TestExitIsSeenAtOnce(t *testing.T) {
	began := time.Now()
	p := start(t, Spec{Name: "quitter", Binary: "sh", Args: []string{"-c", "echo cannot open input >&2; exit 3"}},
		Supervision{BackoffMin: time.Minute})
	defer p.Close()
	testutil.Eventually(t, 2*time.Second, "the exit error", func() bool { return p.Status().LastError != "" })
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Errorf("exit reported after %v", took)
	}
	if st := p.Status(); st.Running || st.LastError != "exit status 3: cannot open input" {
		t.Errorf("status = %+v", st)
	}
}

func TestStdoutHookGetsEachProcessOutput(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	type run struct {
		out       string
		linesSeen []string // stderr lines delivered when stdout ended
	}
	runs := make(chan run, 10)
	p := start(t, Spec{
		Name: "talker", Binary: "sh", Args: []string{"-c", "echo frame; echo last words >&2; exit 3"},
		Stdout: func(r io.Reader) {
			out, _ := io.ReadAll(r)
			mu.Lock()
			defer mu.Unlock()
			runs <- run{string(out), slices.Clone(lines)}
		},
		OnStderrLine: func(line string) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, line)
		},
	}, Supervision{BackoffMin: 20 * time.Millisecond})
	defer p.Close()
	for i := range 2 { // every new process gets the hook
		select {
		case r := <-runs:
			if r.out != "frame\n" || len(r.linesSeen) != i+1 || r.linesSeen[i] != "last words" {
				t.Errorf("run %d: %+v", i, r)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("run %d: no output", i)
		}
	}
}

func TestStdoutHookEndsWithItsProcess(t *testing.T) {
	// The shell exits at once; the sleep it leaves behind holds stdout open.
	ended := make(chan struct{})
	p := start(t, Spec{
		Name: "forker", Binary: "sh", Args: []string{"-c", "sleep 3 & exit 3"},
		Stdout: func(r io.Reader) {
			_, _ = io.Copy(io.Discard, r)
			close(ended)
		},
	}, Supervision{BackoffMin: time.Minute})
	defer p.Close()
	select {
	case <-ended:
	case <-time.After(drainTimeout + 2*time.Second):
		t.Fatal("the Stdout hook outlived its process")
	}
	testutil.Eventually(t, time.Second, "the exit error", func() bool { return strings.Contains(p.Status().LastError, "exit status 3") })
}

func TestFailedRunsLeaveNoGoroutines(t *testing.T) {
	p := start(t, Spec{
		Name: "failer", Binary: "sh", Args: []string{"-c", "echo no >&2; exit 1"},
		Stdout:       func(r io.Reader) { _, _ = io.Copy(io.Discard, r) },
		OnStderrLine: func(string) {},
	}, Supervision{BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, Budget: 1000})
	testutil.Eventually(t, 5*time.Second, "a few restarts", func() bool { return p.Status().Restarts >= 5 })
	before := runtime.NumGoroutine()
	testutil.Eventually(t, 10*time.Second, "many restarts", func() bool { return p.Status().Restarts >= 50 })
	// A run has at most four goroutines of its own; a leak grows per run.
	if after := runtime.NumGoroutine(); after > before+4 {
		t.Errorf("%d goroutines after 45 more failed runs, %d before", after, before)
	}
	p.Close()
	goleak.VerifyNone(t)
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

// A program that logs to stdout (MediaMTX) gets its stdout treated as its
// stderr, runs in its own directory and logs to files of its own name.
func TestStdoutAsStderrDirAndLogPrefix(t *testing.T) {
	dir, logs := t.TempDir(), t.TempDir()
	p := &Process{
		Spec:        Spec{Name: "engine", Binary: "/bin/sh", Args: []string{"-c", "pwd; echo to-stdout; echo to-stderr >&2; exit 3"}, Dir: dir, StdoutAsStderr: true},
		Supervision: Supervision{LogDir: logs, LogPrefix: "mediamtx", BackoffMin: time.Hour},
	}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	testutil.Eventually(t, 5*time.Second, "the first exit", func() bool { return p.Status().LastError != "" })
	tail := strings.Join(p.Status().StderrTail, "\n")
	for _, want := range []string{dir, "to-stdout", "to-stderr"} {
		if !strings.Contains(tail, want) {
			t.Errorf("tail %q lacks %q", tail, want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(logs, "mediamtx-*.log"))
	if len(files) != 1 || !regexp.MustCompile(`mediamtx-\d{8}-\d{6}\.log$`).MatchString(files[0]) {
		t.Fatalf("log files %v, want one mediamtx-YYYYMMDD-HHMMSS.log", files)
	}
	if p.Status().LogPath != files[0] {
		t.Errorf("log path %q, want %q", p.Status().LogPath, files[0])
	}
}

// BeforeStart runs before the first start and every restart; its error is
// a failed start (with backoff), not a crash of the supervisor.
func TestBeforeStartRunsBeforeEachStart(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	p := start(t, Spec{Name: "prep", Binary: "sh", Args: []string{"-c", "exit 1"}, BeforeStart: func() error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			return errors.New("config not writable")
		}
		return nil
	}}, Supervision{BackoffMin: 5 * time.Millisecond, BackoffMax: 5 * time.Millisecond, Budget: 100})
	testutil.Eventually(t, 5*time.Second, "three starts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls >= 3
	})
	p.Close()
	if st := p.Status(); st.Restarts < 2 {
		t.Errorf("restarts %d", st.Restarts)
	}
}

// Issue 12: children inherited the service's whole environment, API and
// sync credentials included. They get only what programs need (PATH,
// locale, hardware-encoder variables) and what their Spec adds.
func TestChildrenGetAMinimalEnvironment(t *testing.T) {
	t.Setenv("TOPOSYNC_STREAMING_API_PASSWORD", "api-s3cret")
	t.Setenv("MTX_RTSPADDRESS", ":1")
	t.Setenv("LIBVA_DRIVER_NAME", "iHD")
	got := make(chan string, 1)
	p := start(t, Spec{
		Name: "env", Binary: "sh", Args: []string{"-c", "env; exec sleep 30"}, Env: []string{"EXTRA=1"},
		Stdout: func(r io.Reader) {
			b, _ := io.ReadAll(r)
			got <- string(b)
		},
	}, Supervision{})
	var env string
	testutil.Eventually(t, 5*time.Second, "the child's environment", func() bool {
		pid := p.Status().PID
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || pid == 0 {
			return false
		}
		env = strings.ReplaceAll(string(raw), "\x00", "\n")
		return strings.Contains(env, "EXTRA=1")
	})
	p.Close()
	<-got
	for _, bad := range []string{"api-s3cret", "MTX_RTSPADDRESS"} {
		if strings.Contains(env, bad) {
			t.Errorf("the child's environment has %s:\n%s", bad, env)
		}
	}
	for _, want := range []string{"PATH=", "LIBVA_DRIVER_NAME=iHD"} {
		if !strings.Contains(env, want) {
			t.Errorf("the child's environment lacks %s:\n%s", want, env)
		}
	}
}

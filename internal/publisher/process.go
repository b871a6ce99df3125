package publisher

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec is one process to keep running.
type Spec struct {
	Name   string   // identifies the process in logs and log file names
	Binary string   // the program (ffmpeg)
	Args   []string // its arguments
	Dir    string   // its working directory; empty: ours
	// Env are variables ("K=V") the process gets besides the few it
	// inherits (see ChildEnv): never the service's whole environment.
	Env []string
	// StdoutAsStderr sends stdout where stderr goes (log file, tail,
	// OnStderrLine), for programs that log to stdout. Not with Stdout.
	StdoutAsStderr bool
	// Secrets are replaced by "***" wherever the arguments or the process's
	// output are logged or reported.
	Secrets []string
	// Stdin, when set, gets each new process's stdin; the process owns the
	// pipe until it exits. Nil means no stdin.
	Stdin func(w io.WriteCloser)
	// Stdout, when set, is called in its own goroutine with each new
	// process's stdout and must return once reading it fails. The reader
	// ends only after the process's stderr has been read to the end, so by
	// then every OnStderrLine call of that process has been made. When
	// Stdout returns, the pipe is closed. Nil means no stdout.
	Stdout func(r io.Reader)
	// OnStderrLine, when set, gets every stderr line (redacted) of every
	// process, from one goroutine at a time.
	OnStderrLine func(line string)
	// BeforeStart, when set, runs before each start (the first and every
	// restart), e.g. to write the config the program reads; an error
	// counts as a failed start.
	BeforeStart func() error
}

// Supervision tunes restarts and logs. Zero fields take the defaults.
type Supervision struct {
	LogDir      string        // where per-process log files go; empty: none
	LogPrefix   string        // log file names: <prefix>-YYYYMMDD-HHMMSS.log (default "ffmpeg-<name>")
	KeepLogs    int           // newest log files kept per name (default 5)
	BackoffMin  time.Duration // first restart delay (default 250ms)
	BackoffMax  time.Duration // longest restart delay (default 10s)
	Budget      int           // restarts allowed per BudgetSpan (default 10)
	BudgetSpan  time.Duration // default 1 minute
	StopTimeout time.Duration // SIGTERM to SIGKILL (default 3s)
	Logger      *slog.Logger
}

func (s Supervision) withDefaults() Supervision {
	if s.KeepLogs <= 0 {
		s.KeepLogs = 5
	}
	if s.BackoffMin <= 0 {
		s.BackoffMin = 250 * time.Millisecond
	}
	if s.BackoffMax <= 0 {
		s.BackoffMax = 10 * time.Second
	}
	if s.Budget <= 0 {
		s.Budget = 10
	}
	if s.BudgetSpan <= 0 {
		s.BudgetSpan = time.Minute
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = 3 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Status is what a supervised process reports.
type Status struct {
	Running      bool      `json:"running"`
	PID          int       `json:"pid,omitempty"`
	StartedAt    time.Time `json:"-"`
	Restarts     int       `json:"restart_count"`
	LastError    string    `json:"last_error,omitempty"`
	StderrTail   []string  `json:"stderr_tail"`
	LogPath      string    `json:"log_path,omitempty"`
	BudgetPaused bool      `json:"restart_budget_exhausted"`
}

const tailLines = 40

// drainTimeout bounds the wait for a process's pipes to end after it
// exited: something it started may still hold them open.
const drainTimeout = time.Second

// Process keeps one program running from Initialize until Close: a process
// that exits is started again after a backoff that doubles with each quick
// failure, and no more than Budget times per BudgetSpan.
type Process struct {
	Spec        Spec
	Supervision Supervision

	sup       Supervision // with defaults
	log       *slog.Logger
	terminate chan struct{}
	done      chan struct{}

	mu     sync.Mutex // guards the snapshot below, written by run and its readers
	status Status
	tail   []string
}

// Initialize checks the spec and starts supervising.
func (p *Process) Initialize() error {
	if p.Spec.Binary == "" {
		return fmt.Errorf("process %q: no binary to run", p.Spec.Name)
	}
	if p.Spec.StdoutAsStderr && p.Spec.Stdout != nil {
		return fmt.Errorf("process %q: StdoutAsStderr and Stdout exclude each other", p.Spec.Name)
	}
	p.sup = p.Supervision.withDefaults()
	p.log = p.sup.Logger.With("process", p.Spec.Name)
	p.terminate = make(chan struct{})
	p.done = make(chan struct{})
	go p.run()
	return nil
}

// Close ends the process (stdin closed, SIGTERM, then SIGKILL after
// StopTimeout) and waits for it and for every goroutine it started.
func (p *Process) Close() {
	close(p.terminate)
	<-p.done
}

// Status is a snapshot of the process's state.
func (p *Process) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status
	st.StderrTail = slices.Clone(p.tail)
	if st.StderrTail == nil {
		st.StderrTail = []string{}
	}
	return st
}

// redact hides the spec's secrets in s.
func (p *Process) redact(s string) string {
	for _, secret := range p.Spec.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

func (p *Process) run() {
	defer close(p.done)
	var restarts []time.Time // inside the budget span
	backoff := p.sup.BackoffMin
	for {
		started := time.Now()
		err := p.runOnce()
		if err == nil { // terminated
			return
		}
		p.log.Warn("process exited; restarting", "err", err, "after", backoff)

		if time.Since(started) > 10*backoff {
			backoff = p.sup.BackoffMin // it ran well: start over
		}
		now := time.Now()
		restarts = slices.DeleteFunc(restarts, func(t time.Time) bool { return now.Sub(t) >= p.sup.BudgetSpan })
		wait := backoff
		if len(restarts) >= p.sup.Budget {
			wait = max(wait, restarts[0].Add(p.sup.BudgetSpan).Sub(now))
			p.setBudgetPaused(true)
			p.log.Error("restart budget exhausted; waiting", "budget", p.sup.Budget, "span", p.sup.BudgetSpan, "wait", wait.Round(time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-p.terminate:
			timer.Stop()
			return
		case <-timer.C:
		}
		restarts = append(restarts, time.Now())
		backoff = min(backoff*2, p.sup.BackoffMax)
		p.mu.Lock()
		p.status.BudgetPaused = false
		p.status.Restarts++
		p.mu.Unlock()
	}
}

func (p *Process) setBudgetPaused(v bool) {
	p.mu.Lock()
	p.status.BudgetPaused = v
	p.mu.Unlock()
}

// runOnce runs the program until it exits, returning why (redacted, with
// its last stderr line), or until Close, returning nil. Every goroutine it
// starts has ended when it returns.
func (p *Process) runOnce() error {
	err := p.runProcess()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if n := len(p.tail); n > 0 {
			err = fmt.Errorf("%w: %s", err, p.tail[n-1]) // it usually says why
		}
		err = errors.New(p.redact(err.Error()))
		p.status.LastError = err.Error()
	}
	return err
}

// runProcess starts the program, waits for its exit or Close, and then for
// its pipes' readers.
func (p *Process) runProcess() error {
	if p.Spec.BeforeStart != nil {
		if err := p.Spec.BeforeStart(); err != nil {
			return fmt.Errorf("before starting %s: %w", filepath.Base(p.Spec.Binary), err)
		}
	}
	cmd := exec.Command(p.Spec.Binary, p.Spec.Args...)
	cmd.Dir = p.Spec.Dir
	cmd.Env = childEnv(p.Spec.Env)
	cmd.SysProcAttr = procAttr()
	logFile := p.openLog()
	if logFile != nil {
		defer logFile.Close()
		fmt.Fprintf(logFile, "# %s %s\n", time.Now().Format(time.RFC3339), p.redact(strings.Join(append([]string{p.Spec.Binary}, p.Spec.Args...), " ")))
	}
	// Our own pipes rather than cmd's: Wait then returns as soon as the
	// process exits, and the readers still get what it wrote last.
	var ours, theirs []*os.File
	defer func() {
		for _, f := range slices.Concat(ours, theirs) {
			_ = f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			ours, theirs = append(ours, r), append(theirs, w)
		}
		return r, w, err
	}
	stderrR, stderrW, err := pipe()
	if err != nil {
		return err
	}
	cmd.Stderr = stderrW
	if p.Spec.StdoutAsStderr {
		cmd.Stdout = stderrW
	}
	var stdoutR *os.File
	if p.Spec.Stdout != nil {
		var stdoutW *os.File
		if stdoutR, stdoutW, err = pipe(); err != nil {
			return err
		}
		cmd.Stdout = stdoutW
	}
	var stdin io.WriteCloser
	if p.Spec.Stdin != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(p.Spec.Binary), err)
	}
	for _, f := range theirs {
		_ = f.Close() // the process has them now
	}
	theirs = nil
	pid := cmd.Process.Pid
	p.mu.Lock()
	p.status.Running, p.status.PID, p.status.StartedAt = true, pid, time.Now()
	p.mu.Unlock()
	p.log.Info("process started", "pid", pid)

	var readers sync.WaitGroup
	stderrDone := make(chan struct{})
	readers.Go(func() {
		defer close(stderrDone)
		p.readStderr(stderrR, logFile)
	})
	if stdoutR != nil {
		readers.Go(func() {
			p.Spec.Stdout(stdout{stdoutR, stderrDone})
			_ = stdoutR.Close() // a process still writing gets EPIPE and ends
		})
	}
	if stdin != nil {
		p.Spec.Stdin(stdin)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	select {
	case err = <-exited:
		if err == nil {
			err = errors.New("exited")
		}
	case <-p.terminate:
		if stdin != nil {
			_ = stdin.Close()
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		timer := time.NewTimer(p.sup.StopTimeout)
		select {
		case <-exited:
		case <-timer.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		timer.Stop()
		p.log.Info("process stopped")
	}
	p.mu.Lock()
	p.status.Running, p.status.PID = false, 0
	p.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		readers.Wait()
		close(drained)
	}()
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		for _, f := range ours {
			_ = f.Close() // the readers fail and return
		}
		<-drained
	}
	return err
}

// stdout is a process's stdout whose end is reported only once its stderr
// has been read to the end (see Spec.Stdout).
type stdout struct {
	r          io.Reader
	stderrDone <-chan struct{}
}

func (s stdout) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil {
		<-s.stderrDone
	}
	return n, err
}

func (p *Process) readStderr(r io.Reader, logFile *os.File) {
	lines := bufio.NewScanner(r)
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() {
		line := p.redact(lines.Text())
		if logFile != nil {
			fmt.Fprintln(logFile, line)
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = slices.Delete(p.tail, 0, len(p.tail)-tailLines)
		}
		p.mu.Unlock()
		if p.Spec.OnStderrLine != nil {
			p.Spec.OnStderrLine(line)
		}
	}
}

// openLog creates this run's log file and deletes the oldest of this
// process's files beyond KeepLogs. Failure to log is not fatal.
func (p *Process) openLog() *os.File {
	if p.sup.LogDir == "" {
		return nil
	}
	if err := os.MkdirAll(p.sup.LogDir, 0o700); err != nil {
		p.log.Warn("cannot create log dir", "dir", p.sup.LogDir, "err", err)
		return nil
	}
	prefix := p.sup.LogPrefix + "-"
	if p.sup.LogPrefix == "" {
		prefix = "ffmpeg-" + SafeName(p.Spec.Name) + "-"
	}
	old, _ := filepath.Glob(filepath.Join(p.sup.LogDir, prefix+"*.log"))
	sort.Strings(old) // names end in a sortable timestamp
	for len(old) >= p.sup.KeepLogs {
		_ = os.Remove(old[0])
		old = old[1:]
	}
	// One file per second at most (the spec's name); runs restarted within
	// the same second append to it, after their own header line.
	path := filepath.Join(p.sup.LogDir, prefix+time.Now().Format("20060102-150405")+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.log.Warn("cannot open log file", "path", path, "err", err)
		return nil
	}
	p.mu.Lock()
	p.status.LogPath = path
	p.mu.Unlock()
	return f
}

// SafeName turns an id into a file-name part: lower case, characters other
// than letters, digits, '-' and '_' become '-', "output" when empty.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-_")
	if out == "" {
		return "output"
	}
	return out
}

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
	// Secrets are replaced by "***" wherever the arguments or the process's
	// output are logged or reported.
	Secrets []string
	// Stdin, when set, gets each new process's stdin; the process owns the
	// pipe until it exits. Nil means no stdin.
	Stdin func(w io.WriteCloser)
}

// Supervision tunes restarts and logs. Zero fields take the defaults.
type Supervision struct {
	LogDir      string        // where per-process log files go; empty: none
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

// Process keeps one program running until Stop.
type Process struct {
	spec Spec
	sup  Supervision
	log  *slog.Logger

	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	status Status
	tail   []string
}

// Start launches spec and keeps it running: a process that exits is started
// again after a backoff that doubles with each quick failure, and no more
// than Budget times per BudgetSpan.
func Start(spec Spec, sup Supervision) *Process {
	sup = sup.withDefaults()
	p := &Process{spec: spec, sup: sup, log: sup.Logger.With("process", spec.Name), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// Stop ends the process (SIGTERM, then SIGKILL after StopTimeout) and waits.
func (p *Process) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
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
	for _, secret := range p.spec.Secrets {
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
		select {
		case <-p.stop:
			return
		default:
		}
		p.mu.Lock()
		p.status.Running, p.status.PID = false, 0
		if err != nil {
			p.status.LastError = p.redact(err.Error())
		}
		p.mu.Unlock()
		p.log.Warn("process exited; restarting", "err", p.redact(fmt.Sprint(err)), "after", backoff)

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
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
		p.setBudgetPaused(false)
		restarts = append(restarts, time.Now())
		backoff = min(backoff*2, p.sup.BackoffMax)
		p.mu.Lock()
		p.status.Restarts++
		p.mu.Unlock()
	}
}

func (p *Process) setBudgetPaused(v bool) {
	p.mu.Lock()
	p.status.BudgetPaused = v
	p.mu.Unlock()
}

// runOnce runs the program until it exits or Stop is called.
func (p *Process) runOnce() error {
	cmd := exec.Command(p.spec.Binary, p.spec.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a signal to us does not reach it first
	logFile := p.openLog()
	if logFile != nil {
		defer logFile.Close()
		fmt.Fprintf(logFile, "# %s %s\n", time.Now().Format(time.RFC3339), p.redact(strings.Join(append([]string{p.spec.Binary}, p.spec.Args...), " ")))
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	var stdin io.WriteCloser
	if p.spec.Stdin != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(p.spec.Binary), err)
	}
	p.mu.Lock()
	p.status.Running, p.status.PID, p.status.StartedAt = true, cmd.Process.Pid, time.Now()
	p.mu.Unlock()
	p.log.Info("process started", "pid", cmd.Process.Pid)

	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		p.readStderr(stderr, logFile)
	}()
	if stdin != nil {
		p.spec.Stdin(stdin)
	}
	exited := make(chan error, 1)
	go func() {
		<-stderrDone // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()

	select {
	case err := <-exited:
		if err == nil {
			err = errors.New("exited")
		}
		return p.withLastLine(err)
	case <-p.stop:
	}
	if stdin != nil {
		_ = stdin.Close()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(p.sup.StopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
	p.mu.Lock()
	p.status.Running, p.status.PID = false, 0
	p.mu.Unlock()
	p.log.Info("process stopped")
	return nil
}

// withLastLine adds the last stderr line to an exit error: it usually says why.
func (p *Process) withLastLine(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.tail); n > 0 {
		return fmt.Errorf("%w: %s", err, p.tail[n-1])
	}
	return err
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
	prefix := "ffmpeg-" + SafeName(p.spec.Name) + "-"
	old, _ := filepath.Glob(filepath.Join(p.sup.LogDir, prefix+"*.log"))
	sort.Strings(old) // names end in a sortable timestamp
	for len(old) >= p.sup.KeepLogs {
		_ = os.Remove(old[0])
		old = old[1:]
	}
	path := filepath.Join(p.sup.LogDir, prefix+time.Now().Format("20060102-150405.000")+".log")
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

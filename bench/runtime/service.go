package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// service is one running toposync-streaming process.
type service struct {
	cmd  *exec.Cmd
	pid  int
	base string // http://127.0.0.1:PORT/api/streams
	done chan struct{}

	mu   sync.Mutex
	logs []logLine
	logF *os.File
}

// logLine is one line of the service's log with the time this harness
// received it.
type logLine struct {
	at   time.Time
	text string
}

var listenLine = regexp.MustCompile(`msg=listening addr=(http://\S+)`)

// moduleRoot is the directory of the go.mod of the current module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module; run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// build compiles ./cmd/toposync-streaming into out.
func build(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/toposync-streaming")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// startService runs `bin serve` (with extra flags) on a free port with
// dataDir, keeps its log in logPath and waits until it answers /health.
func startService(bin, dataDir, logPath string, extra ...string) (*service, error) {
	return startServiceEnv(bin, dataDir, logPath, nil, extra...)
}

// startServiceEnv is startService with env added to this process's.
func startServiceEnv(bin, dataDir, logPath string, env []string, extra ...string) (*service, error) {
	logF, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &service{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), logF: logF}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 64<<10), 1<<20)
		for lines.Scan() {
			at := time.Now()
			text := lines.Text()
			s.mu.Lock()
			s.logs = append(s.logs, logLine{at, text})
			fmt.Fprintln(s.logF, text)
			s.mu.Unlock()
			if m := listenLine.FindStringSubmatch(text); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case s.base = <-addr:
	case <-s.done:
		return nil, fmt.Errorf("service exited before listening; log: %s", logPath)
	case <-time.After(20 * time.Second):
		s.kill()
		return nil, fmt.Errorf("service did not listen within 20s; log: %s", logPath)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, err := s.call("GET", "/health", ""); err == nil && code == 200 {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("service not healthy within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (s *service) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.kill()
	}
	s.mu.Lock()
	_ = s.logF.Close()
	s.mu.Unlock()
}

func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// logSince returns the receipt time of the first log line received at or
// after since that contains every one of parts.
func (s *service) logSince(since time.Time, parts ...string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		if l.at.Before(since) {
			continue
		}
		ok := true
		for _, p := range parts {
			if !strings.Contains(l.text, p) {
				ok = false
				break
			}
		}
		if ok {
			return l.at, true
		}
	}
	return time.Time{}, false
}

var apiClient = &http.Client{Timeout: 10 * time.Second}

// call sends a JSON request and returns the status and the raw answer.
func (s *service) call(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// callJSON sends a request, wants status want and decodes the answer into out.
func (s *service) callJSON(method, path, body string, want int, out any) error {
	code, raw, err := s.call(method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, code, bytes.TrimSpace(raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// outputState is the part of GET /runtime/outputs this harness reads.
type outputState struct {
	TransmissionID   string  `json:"transmission_id"`
	OutputID         string  `json:"output_id"`
	Path             string  `json:"resolved_engine_path"`
	ViewerCount      int     `json:"viewer_count"`
	PublisherRunning bool    `json:"publisher_running"`
	PublisherPID     *int    `json:"publisher_pid"`
	FramesSent       uint64  `json:"publisher_frames_sent"`
	FramesDropped    uint64  `json:"publisher_frames_dropped"`
	LastError        *string `json:"publisher_last_error"`
	Restarts         int     `json:"publisher_restart_count"`
}

func (s *service) outputs() ([]outputState, error) {
	var out struct {
		Outputs []outputState `json:"outputs"`
	}
	err := s.callJSON("GET", "/runtime/outputs", "", 200, &out)
	return out.Outputs, err
}

// output returns the runtime state of transmission tid's single output.
func (s *service) output(tid string) (outputState, error) {
	outs, err := s.outputs()
	if err != nil {
		return outputState{}, err
	}
	for _, o := range outs {
		if o.TransmissionID == tid {
			return o, nil
		}
	}
	return outputState{}, fmt.Errorf("transmission %s not in /runtime/outputs", tid)
}

// waitIdle waits until no output has a running publisher.
func (s *service) waitIdle(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		outs, err := s.outputs()
		if err != nil {
			return err
		}
		busy := ""
		for _, o := range outs {
			if o.PublisherRunning || o.PublisherPID != nil {
				busy = o.Path
			}
		}
		if busy == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publisher of %s still running after %v", busy, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transmission is one created transmission with its RTSP URL.
type transmission struct {
	id, path, url string
}

// createTransmission creates a transmission with one RTSP output.
func (s *service) createTransmission(path string, w, h, fps int, profile string, bitrate int) (transmission, error) {
	body := fmt.Sprintf(`{"name":%q,"path":%q,"enabled":true,"outputs":[{"id":"main","protocol":"rtsp","enabled":true,`+
		`"resolution":{"width":%d,"height":%d},"fps_limit":%d,"bitrate_kbps":%d,"latency_profile":%q}]}`,
		path, path, w, h, fps, bitrate, profile)
	var created struct {
		ID string `json:"id"`
	}
	if err := s.callJSON("POST", "/transmissions", body, 200, &created); err != nil {
		return transmission{}, err
	}
	var urls struct {
		Outputs []struct {
			URL string `json:"url"`
		} `json:"outputs"`
	}
	if err := s.callJSON("GET", "/transmissions/"+created.ID+"/urls", "", 200, &urls); err != nil {
		return transmission{}, err
	}
	if len(urls.Outputs) != 1 {
		return transmission{}, fmt.Errorf("transmission %s: %d URLs, want 1", path, len(urls.Outputs))
	}
	return transmission{id: created.ID, path: path, url: urls.Outputs[0].URL}, nil
}

// enableEngine enables the engine on free ports with the given stop
// debounce and waits until it runs.
func (s *service) enableEngine(debounce float64) error {
	_, err := s.enableEngineKind("", debounce)
	return err
}

// enableEngineKind is enableEngine that also sets the engine kind (""
// keeps the default) and returns the ports (rtsp, hls, webrtc, api).
func (s *service) enableEngineKind(kind string, debounce float64) ([]int, error) {
	p, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	kindField := ""
	if kind != "" {
		kindField = fmt.Sprintf(`"kind":%q,`, kind)
	}
	body := fmt.Sprintf(`{"engine":{%s"enabled":true,"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d}},"runtime":{"stop_debounce_seconds":%g}}`,
		kindField, p[0], p[1], p[2], p[3], debounce)
	if err := s.callJSON("PATCH", "/settings", body, 200, nil); err != nil {
		return nil, err
	}
	// MediaMTX may install first
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Running   bool   `json:"running"`
			LastError string `json:"last_error"`
			Ports     struct {
				RTSP int `json:"rtsp"`
			} `json:"ports"`
		}
		if err := s.callJSON("GET", "/engine/status", "", 200, &st); err != nil {
			return nil, err
		}
		if st.Running && st.Ports.RTSP == p[0] { // not an engine that ran before (the demo's)
			return p, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("engine not running within 60s (last_error %q)", st.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ---- /proc ----

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat returns a process's CPU time (utime+stime, all threads, not
// children), its parent pid and its command name.
func procStat(pid int) (cpu time.Duration, ppid int, comm string, err error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, "", err
	}
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open {
		return 0, 0, "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	comm = string(raw[open+1 : end])
	f := strings.Fields(string(raw[end+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, "", fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick, ppid, comm, nil
}

func procCPU(pid int) time.Duration {
	cpu, _, _, err := procStat(pid)
	if err != nil {
		return 0
	}
	return cpu
}

// children lists the live child processes of pid as "comm(pid)".
func children(pid int) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, comm, err := procStat(n); err == nil && ppid == pid {
			out = append(out, fmt.Sprintf("%s(%d)", comm, n))
		}
	}
	return out
}

// cpuMeter measures a process's CPU between start and stop.
type cpuMeter struct {
	pid  int
	cpu  time.Duration
	wall time.Time
}

func startCPU(pid int) cpuMeter { return cpuMeter{pid: pid, cpu: procCPU(pid), wall: time.Now()} }

// percent is the CPU used since start as % of one core.
func (m cpuMeter) percent() float64 {
	wall := time.Since(m.wall)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(procCPU(m.pid)-m.cpu) / float64(wall)
}

// procRSS is a process's resident set size in MiB (VmRSS), or 0.
func procRSS(pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(raw)) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// selfCPU is this process's CPU time (user+system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

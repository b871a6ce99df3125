// Command engine benchmarks the media engine through the real
// toposync-streaming binary: cold start at a held RTSP reader, join times of
// new RTSP, WHEP and HLS readers on a running stream, and the CPU and memory
// of the service and the engine with 1 publisher and many readers.
// BENCHMARKS.md at the repo root explains every number.
//
//	go run ./bench/engine [-kind embedded|mediamtx|both] [-runs 1] [-duration 20s] [-rtsp-readers 50] [-whep-readers 10]
//
// -kind both runs the embedded engine and MediaMTX interleaved, each run on
// a fresh service, and prints min / median / max of each kind and the ratio
// of the medians. MediaMTX is installed by the service from -mediamtx-mirror
// (default ../shared/mediamtx-mirror beside the repo) or taken from
// TOPOSYNC_STREAMING_ENGINE_PATH; its CPU and memory are its process's (and
// its engine-hook's), added to the service's.
//
// It builds the binary into a temp dir (or uses -bin), runs it on free ports
// with a temp data dir, enables the engine, creates one transmission (path
// "bench") and publishes into it with ffmpeg (1280x720, 15 fps, libx264
// ultrafast zerolatency, yuv420p, -g 15, RTSP over TCP) using the publish
// credentials derived from the data dir's secret. All readers run inside this
// process, so the service's CPU and memory figures do not include them; the
// ffmpeg publisher is a separate process and is not counted either.
//
// The service is started with TOPOSYNC_STREAMING_FFMPEG_PATH pointing at a
// non-executable file, so that it starts no ffmpeg of its own (output
// publishers, test pattern): the path is fed by the benchmark's publisher
// only, and the figures are the engine's.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/toposync/toposync-streaming/bench/internal/readers"
	"github.com/toposync/toposync-streaming/bench/internal/report"
	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/whep"
)

const benchPath = "bench"

type options struct {
	bin         string
	kind        string
	runs        int
	mirror      string
	duration    time.Duration
	baseline    time.Duration
	rtspReaders int
	whepReaders int
	joins       int
	coldStarts  int
	size        string
	fps         int
	gop         int
	bitrate     string
	keep        bool
	split       bool
	jsonOut     string
}

const (
	kindEmbedded = "embedded"
	kindMediaMTX = "mediamtx"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "toposync-streaming binary to run (default: go build ./cmd/toposync-streaming into a temp dir)")
	flag.StringVar(&o.kind, "kind", kindEmbedded, "engine to measure: embedded, mediamtx, or both (interleaved runs, same publisher and readers)")
	flag.IntVar(&o.runs, "runs", 1, "runs per engine kind; each run is a fresh service and data dir")
	flag.StringVar(&o.mirror, "mediamtx-mirror", defaultMirror(), "MediaMTX release mirror (directory or URL) the service downloads from; TOPOSYNC_STREAMING_ENGINE_PATH, when set, takes precedence in the service")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "CPU/RSS measurement window with all readers connected")
	flag.DurationVar(&o.baseline, "baseline", 10*time.Second, "CPU/RSS window with the publisher only (0: skip)")
	flag.IntVar(&o.rtspReaders, "rtsp-readers", 50, "RTSP readers (gortsplib, TCP) during the load window")
	flag.IntVar(&o.whepReaders, "whep-readers", 10, "WHEP readers (pion) during the load window")
	flag.IntVar(&o.joins, "joins", 5, "joins per protocol on the running stream (medians are reported)")
	flag.IntVar(&o.coldStarts, "cold-starts", 0, "publisher cold starts with a held RTSP reader (0: none, just start the publisher); off by default: the service, which has no ffmpeg here, refuses held readers of a path it cannot publish, so only an old binary (-bin) can run them")
	flag.StringVar(&o.size, "size", "1280x720", "publisher frame size")
	flag.IntVar(&o.fps, "fps", 15, "publisher frame rate")
	flag.IntVar(&o.gop, "gop", 15, "publisher keyframe interval in frames (-g)")
	flag.StringVar(&o.bitrate, "bitrate", "2M", "publisher bitrate (-b:v and -maxrate)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, data dirs, logs)")
	flag.BoolVar(&o.split, "split", false, "measure the RTSP readers and the WHEP readers in two windows instead of one (gives RTSP readers per core)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the pooled samples to this file as JSON (bench/internal/report.Table)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(o); err != nil {
		log.Fatalf("benchmark failed: %v", err)
	}
}

// moduleRoot is the directory of the go.mod this harness belongs to.
func moduleRoot() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	if p := strings.TrimSpace(string(gomod)); p != "" && p != os.DevNull {
		return filepath.Dir(p), nil
	}
	return "", errors.New("not inside the module")
}

// defaultMirror is ../shared/mediamtx-mirror beside the repo, when it exists.
func defaultMirror() string {
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "mediamtx-mirror")
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir
	}
	return ""
}

// kinds are the engine kinds of one round, in the order they run.
func kinds(kind string) ([]string, error) {
	switch kind {
	case kindEmbedded, kindMediaMTX:
		return []string{kind}, nil
	case "both":
		return []string{kindEmbedded, kindMediaMTX}, nil
	}
	return nil, fmt.Errorf("-kind %q: want embedded, mediamtx or both", kind)
}

// mediamtxEnv tells the service where MediaMTX comes from. The binary cache
// is shared by all runs, so that only the first run installs it.
func mediamtxEnv(o options, tmp string) ([]string, error) {
	env := []string{"TOPOSYNC_STREAMING_ENGINE_CACHE_DIR=" + filepath.Join(tmp, "engine-cache")}
	switch {
	case o.mirror != "":
		u := o.mirror
		if !strings.Contains(u, "://") {
			abs, err := filepath.Abs(u)
			if err != nil {
				return nil, err
			}
			if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("-mediamtx-mirror %s: not a directory", u)
			}
			u = "file://" + abs
		}
		return append(env, "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL="+u), nil
	case os.Getenv("TOPOSYNC_STREAMING_ENGINE_PATH") != "":
		return env, nil // inherited by the service
	}
	return nil, errors.New("MediaMTX: no release mirror (../shared/mediamtx-mirror beside the repo does not exist and -mediamtx-mirror is empty); " +
		"pass -mediamtx-mirror, or set TOPOSYNC_STREAMING_ENGINE_PATH to a MediaMTX binary")
}

func run(o options) error {
	ks, err := kinds(o.kind)
	if err != nil {
		return err
	}
	if o.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	for _, tool := range []string{"ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not on PATH (apt-get install ffmpeg)", tool)
		}
	}
	tmp, err := os.MkdirTemp("", "toposync-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		log.Printf("temp dir kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	var env []string
	if slices.Contains(ks, kindMediaMTX) {
		if env, err = mediamtxEnv(o, tmp); err != nil {
			return err
		}
	}
	if o.bin == "" {
		o.bin = filepath.Join(tmp, "toposync-streaming")
		if err := build(o.bin); err != nil {
			return err
		}
	}
	start := time.Now()
	res := report.New(ks...)
	// Interleaved (embedded, mediamtx, embedded, ...), so that a drift of
	// the machine's load over the run hits both kinds alike.
	for i := range o.runs {
		for _, k := range ks {
			log.Printf("run %d/%d: %s", i+1, o.runs, k)
			rows, err := runOnce(o, k, env, filepath.Join(tmp, fmt.Sprintf("run%d-%s", i+1, k)))
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", i+1, k, err)
			}
			for _, r := range rows {
				res.Add(k, r.metric, r.unit, r.target, r.v...)
			}
		}
	}
	printTable(o, ks, res, time.Since(start))
	if o.jsonOut != "" {
		return writeJSON(o.jsonOut, res)
	}
	return nil
}

// runOnce measures one engine kind on a fresh service and data dir.
func runOnce(o options, kind string, env []string, dir string) ([]row, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	svc, err := startService(o.bin, dir, env)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	ports, err := svc.enableEngine(kind)
	if err != nil {
		return nil, err
	}
	secret, err := os.ReadFile(filepath.Join(config.RuntimeDir(filepath.Join(dir, "data")), engine.SecretFile))
	if err != nil {
		return nil, fmt.Errorf("publish secret: %w", err)
	}
	user, pass := engine.PublishCredentials(secret, benchPath)
	b := &bench{
		o: o, kind: kind, svc: svc, ports: ports,
		publishURL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", user, pass, ports.RTSP, benchPath),
		rtspURL:    fmt.Sprintf("rtsp://127.0.0.1:%d/%s", ports.RTSP, benchPath),
		whepURL:    fmt.Sprintf("http://127.0.0.1:%d/%s/whep", ports.WebRTC, benchPath),
		hlsURL:     fmt.Sprintf("http://127.0.0.1:%d/%s/index.m3u8", ports.HLS, benchPath),
		apiURL:     fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/%s", ports.API, benchPath),
		logDir:     dir,
	}
	defer b.stopPublisher()
	if err := b.run(); err != nil {
		return nil, err
	}
	return b.rows, nil
}

// build compiles the service binary from the module this file belongs to.
func build(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out, "./cmd/toposync-streaming")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	log.Printf("built %s in %v", out, time.Since(start).Round(time.Millisecond))
	return nil
}

// ---- the service ----

type service struct {
	cmd       *exec.Cmd
	base      string // http://127.0.0.1:port/api/streams
	done      chan struct{}
	enginePID int // a MediaMTX process, 0 for the embedded engine

	mu      sync.Mutex
	readyCh chan string // "after" values of "path ready" lines of benchPath
	logTail []string
}

var (
	listenLine = regexp.MustCompile(`msg=listening addr=(http://\S+)`)
	readyLine  = regexp.MustCompile(`msg="path ready".* path=` + benchPath + ` .*after=(\S+)`)
)

func startService(bin, tmp string, env []string) (*service, error) {
	noFFmpeg := filepath.Join(tmp, "no-ffmpeg")
	if err := os.WriteFile(noFFmpeg, []byte("not an executable\n"), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(tmp, "service.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(tmp, "data"), "--log-level", "info")
	cmd.Env = append(append(os.Environ(), env...), "TOPOSYNC_STREAMING_FFMPEG_PATH="+noFFmpeg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &service{cmd: cmd, done: make(chan struct{}), readyCh: make(chan string, 16)}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			s.mu.Lock()
			s.logTail = append(s.logTail, line)
			if len(s.logTail) > 40 {
				s.logTail = s.logTail[1:]
			}
			s.mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			if m := readyLine.FindStringSubmatch(line); m != nil {
				select {
				case s.readyCh <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.base = a
	case <-s.done:
		return nil, fmt.Errorf("service exited at start:\n%s", s.tail())
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, fmt.Errorf("service did not log its listen address in 15 s:\n%s", s.tail())
	}
	log.Printf("service pid %d listening on %s", cmd.Process.Pid, s.base)
	return s, nil
}

func (s *service) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logTail, "\n")
}

func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	// MediaMTX runs in its own process group and outlives a killed
	// service; the next run must not find it on its ports.
	if s.enginePID != 0 && syscall.Kill(s.enginePID, 0) == nil {
		log.Printf("MediaMTX pid %d outlived the service; killing it", s.enginePID)
		_ = syscall.Kill(s.enginePID, syscall.SIGKILL)
	}
}

func (s *service) call(method, path, body string, out any) error {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type enginePorts struct{ RTSP, HLS, WebRTC, API int }

type engineStatus struct {
	Running      bool    `json:"running"`
	Kind         string  `json:"kind"`
	PID          *int    `json:"pid"`
	RestartCount int     `json:"restart_count"`
	LastError    *string `json:"last_error"`
}

func (s *service) engineStatus() (engineStatus, error) {
	var st engineStatus
	return st, s.call("GET", "/engine/status", "", &st)
}

// enableEngine sets the kind and free ports, creates the transmission and
// starts the engine. It returns once the engine's /v3 API answers: the
// embedded engine's does as soon as it runs, MediaMTX's only after the
// process has loaded its config (the first MediaMTX start also installs it).
func (s *service) enableEngine(kind string) (enginePorts, error) {
	p, err := freePorts(4)
	if err != nil {
		return enginePorts{}, err
	}
	ports := enginePorts{p[0], p[1], p[2], p[3]}
	if err := s.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"kind":%q,"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d}}}`,
		kind, ports.RTSP, ports.HLS, ports.WebRTC, ports.API), nil); err != nil {
		return ports, err
	}
	if err := s.call("POST", "/transmissions", `{"name":"Bench","path":"`+benchPath+`","outputs":[{"id":"main","protocol":"rtsp"}]}`, nil); err != nil {
		return ports, err
	}
	if err := s.call("POST", "/engine/start", "", nil); err != nil {
		return ports, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := s.engineStatus()
		if err != nil {
			return ports, err
		}
		if st.Kind != kind {
			return ports, fmt.Errorf("engine kind %q, want %q", st.Kind, kind)
		}
		if st.Running && apiAnswers(ports.API) {
			if kind == kindMediaMTX {
				if st.PID == nil || *st.PID == s.cmd.Process.Pid {
					return ports, fmt.Errorf("MediaMTX engine without its own pid (%v)", st.PID)
				}
				s.enginePID = *st.PID
			}
			break
		}
		if time.Now().After(deadline) {
			return ports, fmt.Errorf("engine not running with its API answering 60 s after /engine/start (last error %v)", deref(st.LastError))
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("%s engine running (pid %d): RTSP %d, HLS %d, WebRTC %d, API %d", kind, cmp.Or(s.enginePID, s.cmd.Process.Pid),
		ports.RTSP, ports.HLS, ports.WebRTC, ports.API)
	return ports, nil
}

func apiAnswers(port int) bool {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/list", port))
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func freePorts(n int) ([]int, error) {
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// ---- /proc ----

// procSample is one reading of a set of processes: the CPU ticks of each,
// and memory and threads summed over them.
type procSample struct {
	at      time.Time
	ticks   map[int]uint64 // utime + stime
	rssKiB  uint64
	hwmKiB  uint64
	threads int
}

var clkTck = func() float64 {
	if b, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}()

// sampleProcs reads pids[0], which must exist, and the others that still do
// (children come and go).
func sampleProcs(pids ...int) (procSample, error) {
	s := procSample{at: time.Now(), ticks: map[int]uint64{}}
	for i, pid := range pids {
		if err := s.read(pid); err != nil && i == 0 {
			return s, err
		}
	}
	return s, nil
}

func (s *procSample) read(pid int) error {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err
	}
	// fields after "(comm)": state is field 3; utime and stime are 14 and 15
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	if len(f) < 13 {
		return fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err
	}
	s.ticks[pid] = ut + st
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(fs[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rssKiB += n
		case "VmHWM":
			s.hwmKiB += n
		case "Threads":
			s.threads += int(n)
		}
	}
	return nil
}

// cpuPercent is the share of one core used between two samples by the
// processes present in both.
func cpuPercent(a, b procSample) float64 {
	var ticks uint64
	for pid, t := range b.ticks {
		if t0, ok := a.ticks[pid]; ok {
			ticks += t - t0
		}
	}
	return float64(ticks) / clkTck / b.at.Sub(a.at).Seconds() * 100
}

// withDescendants is pid and its live descendants: MediaMTX's are the
// engine-hook processes it runs on demand, which belong to its cost.
func withDescendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:])); len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		for p, pp := range parent {
			if pp == out[i] {
				out = append(out, p)
			}
		}
	}
	return out
}

func waitCh(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// ---- the benchmark ----

type bench struct {
	o                                    options
	kind                                 string
	svc                                  *service
	ports                                enginePorts
	publishURL, rtspURL, whepURL, hlsURL string
	apiURL                               string
	logDir                               string

	pub     *exec.Cmd
	pubDone chan struct{}
	rows    []row
}

// row is one metric of one run: its samples (durations in ms).
type row struct {
	metric, unit, target string
	v                    []float64
}

func (b *bench) add(metric, unit, target string, v ...float64) {
	b.rows = append(b.rows, row{metric, unit, target, v})
	log.Printf("%s: %s", metric, report.Summary(unit, v))
}

func (b *bench) addDurs(metric, target string, ds []time.Duration) {
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = float64(d) / float64(time.Millisecond)
	}
	b.add(metric, "ms", target, v...)
}

func (b *bench) startPublisher() (time.Time, error) {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", b.o.size, b.o.fps),
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", strconv.Itoa(b.o.gop), "-keyint_min", strconv.Itoa(b.o.gop), "-sc_threshold", "0",
		"-b:v", b.o.bitrate, "-maxrate", b.o.bitrate, "-bufsize", b.o.bitrate,
		"-f", "rtsp", "-rtsp_transport", "tcp", b.publishURL}
	cmd := exec.Command("ffmpeg", args...)
	errLog, err := os.OpenFile(filepath.Join(b.logDir, "publisher.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return time.Time{}, err
	}
	cmd.Stderr = errLog
	if err := cmd.Start(); err != nil {
		errLog.Close()
		return time.Time{}, err
	}
	started := time.Now()
	b.pub, b.pubDone = cmd, make(chan struct{})
	done := b.pubDone
	go func() {
		_ = cmd.Wait()
		errLog.Close()
		close(done)
	}()
	return started, nil
}

func (b *bench) stopPublisher() {
	if b.pub == nil {
		return
	}
	_ = b.pub.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.pubDone:
	case <-time.After(5 * time.Second):
		_ = b.pub.Process.Kill()
		<-b.pubDone
	}
	b.pub = nil
}

func (b *bench) publisherAlive() bool {
	if b.pub == nil {
		return false
	}
	select {
	case <-b.pubDone:
		return false
	default:
		return true
	}
}

type apiPath struct {
	Ready  bool `json:"ready"`
	Source *struct {
		ID string `json:"id"`
	} `json:"source"`
	Readers       []json.RawMessage `json:"readers"`
	BytesReceived uint64            `json:"bytesReceived"`
	BytesSent     uint64            `json:"bytesSent"`
}

func (b *bench) pathState() (apiPath, error) {
	var p apiPath
	res, err := http.Get(b.apiURL)
	if err != nil {
		return p, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return p, nil // MediaMTX does not list a path without publisher and readers
	}
	if res.StatusCode != http.StatusOK {
		return p, fmt.Errorf("engine API: %d", res.StatusCode)
	}
	return p, json.NewDecoder(res.Body).Decode(&p)
}

func (b *bench) waitPath(ready bool, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		p, err := b.pathState()
		if err == nil && p.Ready == ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("path %s ready=%v not reached in %v (%v)", benchPath, ready, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bench) run() error {
	if err := b.coldStarts(); err != nil {
		return err
	}
	if err := b.joinTimes(); err != nil {
		return err
	}
	return b.load()
}

// coldStarts: a gortsplib reader DESCRIBEs the path first (the engine holds
// it), then ffmpeg starts publishing.
func (b *bench) coldStarts() error {
	if b.o.coldStarts == 0 {
		// No held reader: just the publisher for the phases after this.
		_, err := b.startPublisher()
		return err
	}
	var execToIDR, pktToIDR, execToDescribe, engineAfter []time.Duration
	for i := range b.o.coldStarts {
		b.stopPublisher()
		if err := b.waitPath(false, 10*time.Second); err != nil {
			return err
		}
		for len(b.svc.readyCh) > 0 {
			<-b.svc.readyCh
		}
		sent := make(chan struct{})
		var once sync.Once
		type res struct {
			r   *readers.RTSP
			err error
		}
		dialed := make(chan res, 1)
		go func() {
			r, err := readers.DialRTSP(b.rtspURL, func() { once.Do(func() { close(sent) }) })
			dialed <- res{r, err}
		}()
		if !waitCh(sent, 5*time.Second) {
			return errors.New("held reader: DESCRIBE not sent")
		}
		// The request is out; give the engine a moment to take it up and
		// hold it, so that the publisher surely starts second.
		time.Sleep(200 * time.Millisecond)
		t0, err := b.startPublisher()
		if err != nil {
			return err
		}
		d := <-dialed
		if d.err != nil {
			return fmt.Errorf("held reader: %w", d.err)
		}
		r := d.r
		if !waitCh(r.IDR(), 10*time.Second) {
			r.Close()
			return errors.New("held reader got no IDR within 10 s of the publisher start")
		}
		described, firstPkt, firstIDR := r.Times()
		execToIDR = append(execToIDR, firstIDR.Sub(t0))
		pktToIDR = append(pktToIDR, firstIDR.Sub(firstPkt))
		execToDescribe = append(execToDescribe, described.Sub(t0))
		// only the embedded engine logs "path ready" into the service log
		if b.kind == kindEmbedded {
			select {
			case a := <-b.svc.readyCh:
				if d, err := time.ParseDuration(a); err == nil {
					engineAfter = append(engineAfter, d)
				}
			case <-time.After(2 * time.Second):
				log.Printf("cold start %d: no \"path ready\" log line", i+1)
			}
		}
		r.Close()
		log.Printf("cold start %d: publisher exec -> first IDR at held reader %v", i+1, execToIDR[i].Round(time.Millisecond))
	}
	b.addDurs("cold start: publisher's first packet -> first decodable frame at held RTSP reader", "<= 300 ms", pktToIDR)
	b.addDurs("cold start: ffmpeg exec -> first decodable frame at held RTSP reader", "", execToIDR)
	b.addDurs("  of which ffmpeg exec -> held DESCRIBE answered (publisher armed)", "", execToDescribe)
	if len(engineAfter) > 0 {
		b.addDurs("  engine log \"path ready after=\" (ANNOUNCE -> first IDR in engine)", "", engineAfter)
	}
	return nil
}

// joinTimes: new readers on the running stream, at random points of the GOP.
func (b *bench) joinTimes() error {
	if !b.publisherAlive() {
		return errors.New("publisher not running")
	}
	if err := b.waitPath(true, 10*time.Second); err != nil {
		return err
	}
	gop := time.Duration(b.o.gop) * time.Second / time.Duration(b.o.fps)
	var rtspJ, rtspPkt, whepJ, whepAns, hlsWarm, ffJ []time.Duration
	var hlsCold time.Duration
	for i := range b.o.joins {
		// a random phase of the GOP, so that the medians do not depend on
		// where the joins fall
		time.Sleep(gop/2 + time.Duration(rand.Int64N(int64(gop))))

		t0 := time.Now()
		r, err := readers.DialRTSP(b.rtspURL, nil)
		if err != nil {
			return fmt.Errorf("RTSP join: %w", err)
		}
		if !waitCh(r.IDR(), 10*time.Second) {
			r.Close()
			return errors.New("RTSP join: no IDR in 10 s")
		}
		_, firstPkt, firstIDR := r.Times()
		rtspJ = append(rtspJ, firstIDR.Sub(t0))
		rtspPkt = append(rtspPkt, firstPkt.Sub(t0))
		r.Close()

		t0 = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		w, err := whep.Dial(ctx, b.whepURL, "", "")
		cancel()
		if err != nil {
			return fmt.Errorf("WHEP join: %w", err)
		}
		if !waitCh(w.FirstIDR(), 10*time.Second) {
			_ = w.Close()
			return errors.New("WHEP join: no IDR in 10 s")
		}
		st := w.Stats()
		whepJ = append(whepJ, st.FirstIDR.Sub(t0))
		whepAns = append(whepAns, st.Answered.Sub(t0))
		_ = w.Close()

		d, err := hlsJoin(b.hlsURL, fmt.Sprintf("bench-hls-%d", i))
		if err != nil {
			return fmt.Errorf("HLS join: %w", err)
		}
		if i == 0 {
			hlsCold = d
		} else {
			hlsWarm = append(hlsWarm, d)
		}

		if i < 3 {
			t0 = time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
				"-i", b.rtspURL, "-frames:v", "1", "-f", "null", "-").CombinedOutput()
			cancel()
			if err != nil {
				return fmt.Errorf("ffmpeg join: %v: %s", err, out)
			}
			ffJ = append(ffJ, time.Since(t0))
		}
	}
	b.addDurs("join: new RTSP reader (gortsplib), connect -> first decodable frame", "<= 300 ms", rtspJ)
	b.addDurs("  connect -> first RTP packet", "", rtspPkt)
	b.addDurs("join: new WHEP reader (pion), offer -> first IDR with SPS/PPS", "<= 300 ms", whepJ)
	b.addDurs("  offer -> 201 answer", "", whepAns)
	b.addDurs("join: HLS, first index.m3u8 request -> first segment downloaded, new muxer", "", []time.Duration{hlsCold})
	if len(hlsWarm) > 0 {
		b.addDurs("join: HLS, same with the muxer already running", "", hlsWarm)
	}
	if len(ffJ) > 0 {
		b.addDurs("join: ffmpeg -i rtsp -frames:v 1 -f null, process wall time", "", ffJ)
	}
	return nil
}

// hlsJoin is one HLS join, bounded to 20 s.
func hlsJoin(indexURL, ua string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return readers.HLSFirstSegment(ctx, indexURL, ua)
}

// procGroup is a set of processes whose CPU and memory are reported
// together; the set is listed anew at each sample.
type procGroup struct {
	name string
	pids func() []int
}

// procGroups are the processes that make up the engine's cost: the service
// (which is the embedded engine), and MediaMTX with the hooks it runs.
func (b *bench) procGroups() []procGroup {
	g := []procGroup{{"service process", func() []int { return []int{b.svc.cmd.Process.Pid} }}}
	if pid := b.svc.enginePID; pid != 0 {
		g = append(g, procGroup{"MediaMTX process (+ its engine-hook)", func() []int { return withDescendants(pid) }})
	}
	return g
}

type usage struct {
	cpu         float64 // % of one core
	maxRSS, hwm float64 // MiB
	threads     int
}

// measure samples the groups each second over d; the last entry of the
// result is their total. The total's max RSS is the max of the summed
// samples; its VmHWM is the sum of the peaks.
func (b *bench) measure(d time.Duration) ([]usage, error) {
	groups := b.procGroups()
	sample := func() ([]procSample, error) {
		out := make([]procSample, len(groups))
		for i, g := range groups {
			s, err := sampleProcs(g.pids()...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", g.name, err)
			}
			out[i] = s
		}
		return out, nil
	}
	a, err := sample()
	if err != nil {
		return nil, err
	}
	maxRSS := make([]uint64, len(groups)+1)
	track := func(s []procSample) {
		var total uint64
		for i, g := range s {
			maxRSS[i] = max(maxRSS[i], g.rssKiB)
			total += g.rssKiB
		}
		maxRSS[len(s)] = max(maxRSS[len(s)], total)
	}
	track(a)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		time.Sleep(min(time.Second, time.Until(end)))
		if s, err := sample(); err == nil {
			track(s)
		}
	}
	z, err := sample()
	if err != nil {
		return nil, err
	}
	track(z)
	out := make([]usage, len(groups)+1)
	total := &out[len(groups)]
	for i := range groups {
		out[i] = usage{cpu: cpuPercent(a[i], z[i]), maxRSS: mib(maxRSS[i]), hwm: mib(z[i].hwmKiB), threads: z[i].threads}
		total.cpu += out[i].cpu
		total.hwm += out[i].hwm
		total.threads += out[i].threads
	}
	total.maxRSS = mib(maxRSS[len(groups)])
	return out, nil
}

func mib(kib uint64) float64 { return float64(kib) / 1024 }

// addUsage adds the rows of one window: the total, which compares across
// kinds, then each group when there is more than the service.
func (b *bench) addUsage(window string, u []usage, cpuTarget, rssTarget string, hwm bool) {
	groups := b.procGroups()
	total := u[len(u)-1]
	b.add("CPU, service + engine, "+window, "% of one core", cpuTarget, total.cpu)
	b.add("RSS (VmRSS, max of 1 s samples), service + engine, "+window, "MiB", rssTarget, total.maxRSS)
	if hwm {
		b.add("peak RSS over the whole run (VmHWM), service + engine", "MiB", "", total.hwm)
		b.add("threads, service + engine", "count", "", float64(total.threads))
	}
	if len(groups) < 2 {
		return
	}
	for i, g := range groups {
		b.add("  CPU, "+g.name+", "+window, "% of one core", "", u[i].cpu)
		b.add("  RSS, "+g.name+", "+window, "MiB", "", u[i].maxRSS)
	}
}

// load measures the service with the publisher alone, then with all
// readers in one window, or (-split) with the RTSP readers and then the
// WHEP readers in windows of their own.
func (b *bench) load() error {
	st0, err := b.svc.engineStatus()
	if err != nil {
		return err
	}
	baseCPU := -1.0
	if b.o.baseline > 0 {
		// The HLS muxer of the join phase lives on (60 s in the embedded
		// engine): the baseline includes it.
		u, err := b.measure(b.o.baseline)
		if err != nil {
			return err
		}
		b.addUsage("publisher only", u, "", "", false)
		baseCPU = u[len(u)-1].cpu
	}
	windows := [][2]int{{b.o.rtspReaders, b.o.whepReaders}}
	if b.o.split {
		windows = [][2]int{{b.o.rtspReaders, 0}, {0, b.o.whepReaders}}
	}
	for _, w := range windows {
		if w[0]+w[1] == 0 {
			continue
		}
		cpu, err := b.readersWindow(w[0], w[1])
		if err != nil {
			return err
		}
		// Readers per core: what one core serves at this bitrate, from the
		// CPU the readers add over the publisher alone.
		if w[1] == 0 && baseCPU >= 0 && cpu > baseCPU {
			b.add(fmt.Sprintf("RTSP readers per core at %sbit/s (readers / added CPU)", b.o.bitrate), "count", "", float64(w[0])*100/(cpu-baseCPU))
		}
	}
	if st1, err := b.svc.engineStatus(); err != nil || st1.RestartCount != st0.RestartCount || !samePID(st0.PID, st1.PID) {
		return fmt.Errorf("the engine restarted during the load phase (%v)", err)
	}
	return nil
}

// readersWindow connects nRTSP RTSP and nWHEP WHEP readers, measures over
// -duration and disconnects them. It returns the total CPU.
func (b *bench) readersWindow(nRTSP, nWHEP int) (float64, error) {
	connectStart := time.Now()
	var rtspReaders []*readers.RTSP
	var sessions []*whep.Session
	defer func() {
		for _, r := range rtspReaders {
			r.Close()
		}
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, 10)
	for range nRTSP {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := readers.DialRTSP(b.rtspURL, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = keepFirst(firstErr, err)
				return
			}
			rtspReaders = append(rtspReaders, r)
		})
	}
	for range nWHEP {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := whep.Dial(ctx, b.whepURL, "", "")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = keepFirst(firstErr, err)
				return
			}
			sessions = append(sessions, s)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("connecting readers: %w", firstErr)
	}
	for _, r := range rtspReaders {
		if !waitCh(r.IDR(), 15*time.Second) {
			return 0, errors.New("an RTSP load reader got no IDR")
		}
	}
	for _, s := range sessions {
		if !waitCh(s.FirstIDR(), 15*time.Second) {
			return 0, errors.New("a WHEP load reader got no IDR")
		}
	}
	log.Printf("%d RTSP + %d WHEP readers decoding after %v", len(rtspReaders), len(sessions), time.Since(connectStart).Round(time.Millisecond))
	if p, err := b.pathState(); err == nil {
		log.Printf("engine lists %d readers", len(p.Readers))
	}
	// settle: connection bursts (GOP prefill, ICE) are not steady state
	time.Sleep(2 * time.Second)

	p0, _ := b.pathState()
	type counts struct{ packets, frames, lost uint64 }
	before := make([]counts, len(rtspReaders))
	for i, r := range rtspReaders {
		before[i].packets, before[i].frames, before[i].lost = r.Snapshot()
	}
	wBefore := make([]whep.Stats, len(sessions))
	for i, s := range sessions {
		wBefore[i] = s.Stats()
	}
	self0, _ := sampleProcs(os.Getpid())
	t0 := time.Now()
	u, err := b.measure(b.o.duration)
	if err != nil {
		return 0, err
	}
	secs := time.Since(t0).Seconds()
	self1, _ := sampleProcs(os.Getpid())
	p1, _ := b.pathState()

	var rtspFPS, whepFPS []float64
	var lost uint64
	for i, r := range rtspReaders {
		_, f, l := r.Snapshot()
		rtspFPS = append(rtspFPS, float64(f-before[i].frames)/secs)
		lost += l - before[i].lost
	}
	for i, s := range sessions {
		st := s.Stats()
		whepFPS = append(whepFPS, float64(st.Frames-wBefore[i].Frames)/secs)
	}
	win := fmt.Sprintf("%d RTSP + %d WHEP readers", len(rtspReaders), len(sessions))
	// Split windows keep their per-window rows apart; the peak over the
	// run is read once, after the last.
	name := func(n string) string {
		if b.o.split {
			return n + ", " + win
		}
		return n
	}
	b.addUsage(win, u, "<= 15 %", "<= 80 MiB", !b.o.split || nWHEP > 0)
	b.add(name("publisher bitrate into the engine"), "Mbit/s", "", float64(p1.BytesReceived-p0.BytesReceived)*8/secs/1e6)
	b.add(name("engine egress (RTSP + WHEP)"), "Mbit/s", "", float64(p1.BytesSent-p0.BytesSent)*8/secs/1e6)
	fps := strconv.Itoa(b.o.fps)
	if nRTSP > 0 {
		b.add("frames/s per RTSP reader", "fps", fps, rtspFPS...)
		b.add(name("RTP packets lost at RTSP readers during the window"), "count", "0", float64(lost))
	}
	if nWHEP > 0 {
		b.add("frames/s per WHEP reader", "fps", fps, whepFPS...)
	}
	b.add(name("harness process CPU (readers; not part of the service figure)"), "% of one core", "", cpuPercent(self0, self1))
	if !b.publisherAlive() || p0.Source == nil || p1.Source == nil || p0.Source.ID != p1.Source.ID {
		return 0, errors.New("the benchmark publisher was replaced or stopped during the load window")
	}
	return u[len(u)-1].cpu, nil
}

func samePID(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// keepFirst keeps the first error.
func keepFirst(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

// ---- results ----

// writeJSON writes the pooled table for another harness (make bench).
func writeJSON(path string, t *report.Table) error {
	raw, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func printTable(o options, ks []string, t *report.Table, took time.Duration) {
	host, _ := os.Hostname()
	fmt.Printf("\nEngine benchmark, %s, %s, %d CPUs, publisher %s@%d fps -g %d %s, %d run(s) of %s, took %v\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), o.size, o.fps, o.gop, o.bitrate,
		o.runs, strings.Join(ks, " + "), took.Round(time.Second))
	fmt.Printf("Windows: publisher only %v, with readers %v. Cells: min / median / max (samples, pooled over runs).\n\n", o.baseline, o.duration)
	fmt.Print(t.Markdown())
}

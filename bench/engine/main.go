// Command engine benchmarks the embedded media engine through the real
// toposync-streaming binary: cold start at a held RTSP reader, join times of
// new RTSP, WHEP and HLS readers on a running stream, and the service's CPU
// and memory with 1 publisher and many readers. BENCHMARKS.md at the repo
// root explains every number.
//
//	go run ./bench/engine [-duration 20s] [-rtsp-readers 50] [-whep-readers 10]
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

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/whep"
)

const benchPath = "bench"

type options struct {
	bin         string
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
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "toposync-streaming binary to run (default: go build ./cmd/toposync-streaming into a temp dir)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "CPU/RSS measurement window with all readers connected")
	flag.DurationVar(&o.baseline, "baseline", 10*time.Second, "CPU/RSS window with the publisher only (0: skip)")
	flag.IntVar(&o.rtspReaders, "rtsp-readers", 50, "RTSP readers (gortsplib, TCP) during the load window")
	flag.IntVar(&o.whepReaders, "whep-readers", 10, "WHEP readers (pion) during the load window")
	flag.IntVar(&o.joins, "joins", 5, "joins per protocol on the running stream (medians are reported)")
	flag.IntVar(&o.coldStarts, "cold-starts", 3, "publisher cold starts with a held RTSP reader")
	flag.StringVar(&o.size, "size", "1280x720", "publisher frame size")
	flag.IntVar(&o.fps, "fps", 15, "publisher frame rate")
	flag.IntVar(&o.gop, "gop", 15, "publisher keyframe interval in frames (-g)")
	flag.StringVar(&o.bitrate, "bitrate", "2M", "publisher bitrate (-b:v and -maxrate)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, data dir, logs)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(o); err != nil {
		log.Fatalf("benchmark failed: %v", err)
	}
}

func run(o options) error {
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
	if o.bin == "" {
		o.bin = filepath.Join(tmp, "toposync-streaming")
		if err := build(o.bin); err != nil {
			return err
		}
	}

	svc, err := startService(o.bin, tmp)
	if err != nil {
		return err
	}
	defer svc.stop()
	ports, err := svc.enableEngine()
	if err != nil {
		return err
	}
	secret, err := os.ReadFile(filepath.Join(config.RuntimeDir(filepath.Join(tmp, "data")), engine.SecretFile))
	if err != nil {
		return fmt.Errorf("publish secret: %w", err)
	}
	user, pass := engine.PublishCredentials(secret, benchPath)
	b := &bench{
		o: o, svc: svc, ports: ports,
		publishURL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", user, pass, ports.RTSP, benchPath),
		rtspURL:    fmt.Sprintf("rtsp://127.0.0.1:%d/%s", ports.RTSP, benchPath),
		whepURL:    fmt.Sprintf("http://127.0.0.1:%d/%s/whep", ports.WebRTC, benchPath),
		hlsURL:     fmt.Sprintf("http://127.0.0.1:%d/%s/index.m3u8", ports.HLS, benchPath),
		apiURL:     fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/%s", ports.API, benchPath),
		logDir:     tmp,
	}
	defer b.stopPublisher()
	return b.run()
}

// build compiles the service binary from the module this file belongs to.
func build(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
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
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/api/streams
	done chan struct{}

	mu      sync.Mutex
	readyCh chan string // "after" values of "path ready" lines of benchPath
	logTail []string
}

var (
	listenLine = regexp.MustCompile(`msg=listening addr=(http://\S+)`)
	readyLine  = regexp.MustCompile(`msg="path ready".* path=` + benchPath + ` .*after=(\S+)`)
)

func startService(bin, tmp string) (*service, error) {
	noFFmpeg := filepath.Join(tmp, "no-ffmpeg")
	if err := os.WriteFile(noFFmpeg, []byte("not an executable\n"), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(tmp, "service.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(tmp, "data"), "--log-level", "info")
	cmd.Env = append(os.Environ(), "TOPOSYNC_STREAMING_FFMPEG_PATH="+noFFmpeg)
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

// enableEngine sets free ports, creates the transmission and starts the
// engine.
func (s *service) enableEngine() (enginePorts, error) {
	p, err := freePorts(4)
	if err != nil {
		return enginePorts{}, err
	}
	ports := enginePorts{p[0], p[1], p[2], p[3]}
	if err := s.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d}}}`,
		ports.RTSP, ports.HLS, ports.WebRTC, ports.API), nil); err != nil {
		return ports, err
	}
	if err := s.call("POST", "/transmissions", `{"name":"Bench","path":"`+benchPath+`","outputs":[{"id":"main","protocol":"rtsp"}]}`, nil); err != nil {
		return ports, err
	}
	var st struct {
		Running bool `json:"running"`
	}
	if err := s.call("POST", "/engine/start", "", &st); err != nil {
		return ports, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !st.Running {
		if time.Now().After(deadline) {
			return ports, errors.New("engine not running 10 s after /engine/start")
		}
		time.Sleep(50 * time.Millisecond)
		if err := s.call("GET", "/engine/status", "", &st); err != nil {
			return ports, err
		}
	}
	log.Printf("engine running: RTSP %d, HLS %d, WebRTC %d, API %d", ports.RTSP, ports.HLS, ports.WebRTC, ports.API)
	return ports, nil
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

type procSample struct {
	at      time.Time
	ticks   uint64 // utime + stime
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

func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// fields after "(comm)": state is field 3; utime and stime are 14 and 15
	rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	s.ticks = ut + st
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
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
			s.rssKiB = n
		case "VmHWM":
			s.hwmKiB = n
		case "Threads":
			s.threads = int(n)
		}
	}
	return s, nil
}

// cpuPercent is the share of one core used between two samples.
func cpuPercent(a, b procSample) float64 {
	return float64(b.ticks-a.ticks) / clkTck / b.at.Sub(a.at).Seconds() * 100
}

// ---- RTSP reader ----

type rtspReader struct {
	c     *gortsplib.Client
	start time.Time

	mu        sync.Mutex
	described time.Time
	firstPkt  time.Time
	firstIDR  time.Time
	packets   uint64
	frames    uint64 // packets with the marker bit
	lost      uint64
	idrCh     chan struct{}
}

// dialRTSP connects a gortsplib reader over TCP and returns once it plays
// (a held DESCRIBE blocks it). sent, when set, is called when the DESCRIBE
// request goes out.
func dialRTSP(rawURL string, sent func()) (*rtspReader, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.ProtocolTCP
	r := &rtspReader{start: time.Now(), idrCh: make(chan struct{})}
	r.c = &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host, Protocol: &tcp, ReadTimeout: 20 * time.Second,
		OnRequest: func(req *base.Request) {
			if req.Method == base.Describe && sent != nil {
				sent()
			}
		},
		OnPacketsLost: func(lost uint64) {
			r.mu.Lock()
			r.lost += lost
			r.mu.Unlock()
		},
		OnDecodeError: func(error) {},
	}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	r.mu.Lock()
	r.described = time.Now()
	r.mu.Unlock()
	var f *format.H264
	medi := desc.FindFormat(&f)
	if medi == nil {
		r.c.Close()
		return nil, errors.New("no H.264 track")
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		r.c.Close()
		return nil, err
	}
	if _, err := r.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		r.c.Close()
		return nil, err
	}
	gotIDR := false // read goroutine only
	r.c.OnPacketRTP(medi, f, func(pkt *rtp.Packet) {
		now := time.Now()
		r.mu.Lock()
		r.packets++
		if pkt.Marker {
			r.frames++
		}
		if r.firstPkt.IsZero() {
			r.firstPkt = now
		}
		r.mu.Unlock()
		if gotIDR {
			return // depacketize only until the first decodable frame
		}
		au, err := dec.Decode(pkt)
		if err != nil || !h264.IsRandomAccess(au) {
			return
		}
		gotIDR = true
		r.mu.Lock()
		r.firstIDR = now
		r.mu.Unlock()
		close(r.idrCh)
	})
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

func (r *rtspReader) snapshot() (packets, frames, lost uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets, r.frames, r.lost
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
	svc                                  *service
	ports                                enginePorts
	publishURL, rtspURL, whepURL, hlsURL string
	apiURL                               string
	logDir                               string

	pub     *exec.Cmd
	pubDone chan struct{}
	rows    []row
}

type row struct{ metric, value, target string }

func (b *bench) add(metric, value, target string) {
	b.rows = append(b.rows, row{metric, value, target})
	log.Printf("%s: %s", metric, value)
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
	start := time.Now()
	if err := b.coldStarts(); err != nil {
		return err
	}
	if err := b.joinTimes(); err != nil {
		return err
	}
	if err := b.load(); err != nil {
		return err
	}
	b.print(time.Since(start))
	return nil
}

// coldStarts: a gortsplib reader DESCRIBEs the path first (the engine holds
// it), then ffmpeg starts publishing.
func (b *bench) coldStarts() error {
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
			r   *rtspReader
			err error
		}
		dialed := make(chan res, 1)
		go func() {
			r, err := dialRTSP(b.rtspURL, func() { once.Do(func() { close(sent) }) })
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
		if !waitCh(r.idrCh, 10*time.Second) {
			r.c.Close()
			return errors.New("held reader got no IDR within 10 s of the publisher start")
		}
		r.mu.Lock()
		execToIDR = append(execToIDR, r.firstIDR.Sub(t0))
		pktToIDR = append(pktToIDR, r.firstIDR.Sub(r.firstPkt))
		execToDescribe = append(execToDescribe, r.described.Sub(t0))
		r.mu.Unlock()
		select {
		case a := <-b.svc.readyCh:
			if d, err := time.ParseDuration(a); err == nil {
				engineAfter = append(engineAfter, d)
			}
		case <-time.After(2 * time.Second):
			log.Printf("cold start %d: no \"path ready\" log line", i+1)
		}
		r.c.Close()
		log.Printf("cold start %d: publisher exec -> first IDR at held reader %v", i+1, execToIDR[i].Round(time.Millisecond))
	}
	b.add("cold start: publisher's first packet -> first decodable frame at held RTSP reader (median)", fmtDurs(pktToIDR), "<= 300 ms")
	b.add("cold start: ffmpeg exec -> first decodable frame at held RTSP reader (median)", fmtDurs(execToIDR), "")
	b.add("  of which ffmpeg exec -> held DESCRIBE answered (publisher armed)", fmtDurs(execToDescribe), "")
	if len(engineAfter) > 0 {
		b.add("  engine log \"path ready after=\" (ANNOUNCE -> first IDR in engine)", fmtDurs(engineAfter), "")
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
		r, err := dialRTSP(b.rtspURL, nil)
		if err != nil {
			return fmt.Errorf("RTSP join: %w", err)
		}
		if !waitCh(r.idrCh, 10*time.Second) {
			r.c.Close()
			return errors.New("RTSP join: no IDR in 10 s")
		}
		r.mu.Lock()
		rtspJ = append(rtspJ, r.firstIDR.Sub(t0))
		rtspPkt = append(rtspPkt, r.firstPkt.Sub(t0))
		r.mu.Unlock()
		r.c.Close()

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

		d, err := b.hlsJoin(fmt.Sprintf("bench-hls-%d", i))
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
	b.add("join: new RTSP reader (gortsplib), connect -> first decodable frame (median)", fmtDurs(rtspJ), "<= 300 ms")
	b.add("  connect -> first RTP packet", fmtDurs(rtspPkt), "")
	b.add("join: new WHEP reader (pion), offer -> first IDR with SPS/PPS (median)", fmtDurs(whepJ), "<= 300 ms")
	b.add("  offer -> 201 answer", fmtDurs(whepAns), "")
	b.add("join: HLS, first index.m3u8 request -> first segment downloaded, new muxer", hlsCold.Round(time.Millisecond).String(), "")
	if len(hlsWarm) > 0 {
		b.add("join: HLS, same with the muxer already running (median)", fmtDurs(hlsWarm), "")
	}
	if len(ffJ) > 0 {
		b.add("join: ffmpeg -i rtsp -frames:v 1 -f null, process wall time (median)", fmtDurs(ffJ), "")
	}
	return nil
}

// hlsJoin fetches index.m3u8, the media playlist it names and the first
// segment of that playlist, as a new client (own User-Agent).
func (b *bench) hlsJoin(ua string) (time.Duration, error) {
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(u string) ([]byte, error) {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", ua)
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			return nil, fmt.Errorf("GET %s: %d (%d bytes)", u, res.StatusCode, len(body))
		}
		return body, nil
	}
	firstURI := func(playlist []byte) string {
		for _, l := range strings.Split(string(playlist), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				return l
			}
		}
		return ""
	}
	t0 := time.Now()
	idx, err := get(b.hlsURL)
	if err != nil {
		return 0, err
	}
	baseURL := b.hlsURL[:strings.LastIndexByte(b.hlsURL, '/')+1]
	media := idx
	if strings.Contains(string(idx), "#EXT-X-STREAM-INF") {
		uri := firstURI(idx)
		if uri == "" {
			return 0, errors.New("multivariant playlist without variant")
		}
		if media, err = get(baseURL + uri); err != nil {
			return 0, err
		}
	}
	seg := firstURI(media)
	if seg == "" {
		return 0, fmt.Errorf("media playlist without segment:\n%s", media)
	}
	if _, err := get(baseURL + seg); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// load measures the service with the publisher alone, then with all readers.
func (b *bench) load() error {
	pid := b.svc.cmd.Process.Pid
	if b.o.baseline > 0 {
		// let the HLS muxer of the join phase expire first? It lives 60 s;
		// the baseline includes it, which the table says.
		a, err := sampleProc(pid)
		if err != nil {
			return err
		}
		time.Sleep(b.o.baseline)
		z, err := sampleProc(pid)
		if err != nil {
			return err
		}
		b.add(fmt.Sprintf("service CPU, publisher only (%v window)", b.o.baseline), fmt.Sprintf("%.1f %% of one core", cpuPercent(a, z)), "")
		b.add("service RSS, publisher only", fmt.Sprintf("%.1f MiB", float64(z.rssKiB)/1024), "")
	}

	connectStart := time.Now()
	var readers []*rtspReader
	var sessions []*whep.Session
	defer func() {
		for _, r := range readers {
			r.c.Close()
		}
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, 10)
	for range b.o.rtspReaders {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := dialRTSP(b.rtspURL, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmp(firstErr, err)
				return
			}
			readers = append(readers, r)
		})
	}
	for range b.o.whepReaders {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := whep.Dial(ctx, b.whepURL, "", "")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmp(firstErr, err)
				return
			}
			sessions = append(sessions, s)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("connecting readers: %w", firstErr)
	}
	for _, r := range readers {
		if !waitCh(r.idrCh, 15*time.Second) {
			return errors.New("an RTSP load reader got no IDR")
		}
	}
	for _, s := range sessions {
		if !waitCh(s.FirstIDR(), 15*time.Second) {
			return errors.New("a WHEP load reader got no IDR")
		}
	}
	log.Printf("%d RTSP + %d WHEP readers decoding after %v", len(readers), len(sessions), time.Since(connectStart).Round(time.Millisecond))
	if p, err := b.pathState(); err == nil {
		log.Printf("engine lists %d readers", len(p.Readers))
	}
	// settle: connection bursts (GOP prefill, ICE) are not steady state
	time.Sleep(2 * time.Second)

	p0, _ := b.pathState()
	type counts struct{ packets, frames, lost uint64 }
	before := make([]counts, len(readers))
	for i, r := range readers {
		before[i].packets, before[i].frames, before[i].lost = r.snapshot()
	}
	wBefore := make([]whep.Stats, len(sessions))
	for i, s := range sessions {
		wBefore[i] = s.Stats()
	}
	self0, _ := sampleProc(os.Getpid())
	a, err := sampleProc(pid)
	if err != nil {
		return err
	}
	maxRSS := a.rssKiB
	end := time.Now().Add(b.o.duration)
	for time.Now().Before(end) {
		time.Sleep(min(time.Second, time.Until(end)))
		if s, err := sampleProc(pid); err == nil && s.rssKiB > maxRSS {
			maxRSS = s.rssKiB
		}
	}
	z, err := sampleProc(pid)
	if err != nil {
		return err
	}
	self1, _ := sampleProc(os.Getpid())
	p1, _ := b.pathState()
	secs := z.at.Sub(a.at).Seconds()

	var rtspFPS, whepFPS []float64
	var lost uint64
	for i, r := range readers {
		_, f, l := r.snapshot()
		rtspFPS = append(rtspFPS, float64(f-before[i].frames)/secs)
		lost += l - before[i].lost
	}
	for i, s := range sessions {
		st := s.Stats()
		whepFPS = append(whepFPS, float64(st.Frames-wBefore[i].Frames)/secs)
	}
	label := fmt.Sprintf("%d RTSP + %d WHEP readers", len(readers), len(sessions))
	b.add(fmt.Sprintf("service CPU, 1 publisher %s@%d + %s (%v window)", b.o.size, b.o.fps, label, b.o.duration),
		fmt.Sprintf("%.1f %% of one core", cpuPercent(a, z)), "<= 15 %")
	b.add("service RSS (VmRSS) during that window, max of 1 s samples", fmt.Sprintf("%.1f MiB", float64(maxRSS)/1024), "<= 80 MiB")
	b.add("service peak RSS over the whole run (VmHWM)", fmt.Sprintf("%.1f MiB", float64(z.hwmKiB)/1024), "")
	b.add("service threads", strconv.Itoa(z.threads), "")
	b.add("publisher bitrate into the engine", fmt.Sprintf("%.2f Mbit/s", float64(p1.BytesReceived-p0.BytesReceived)*8/secs/1e6), "")
	b.add("engine egress (RTSP + WHEP)", fmt.Sprintf("%.1f Mbit/s", float64(p1.BytesSent-p0.BytesSent)*8/secs/1e6), "")
	b.add("frames/s per RTSP reader (min / median)", fmtRates(rtspFPS), fmt.Sprintf("%d", b.o.fps))
	b.add("frames/s per WHEP reader (min / median)", fmtRates(whepFPS), fmt.Sprintf("%d", b.o.fps))
	b.add("RTP packets lost at RTSP readers during the window", strconv.FormatUint(lost, 10), "0")
	b.add("harness process CPU (readers; not part of the service figure)", fmt.Sprintf("%.1f %% of one core", cpuPercent(self0, self1)), "")
	if !b.publisherAlive() || p0.Source == nil || p1.Source == nil || p0.Source.ID != p1.Source.ID {
		return errors.New("the benchmark publisher was replaced or stopped during the load window")
	}
	return nil
}

// cmp keeps the first error.
func cmp(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtDurs(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%v (min %v, max %v, n=%d)", median(s).Round(time.Millisecond), s[0].Round(time.Millisecond),
		s[len(s)-1].Round(time.Millisecond), len(s))
}

func fmtRates(v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprintf("%.1f / %.1f", s[0], s[len(s)/2])
}

func (b *bench) print(took time.Duration) {
	host, _ := os.Hostname()
	fmt.Printf("\nEngine benchmark, %s, %s, %d CPUs, publisher %s@%d fps -g %d %s, run took %v\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), b.o.size, b.o.fps, b.o.gop, b.o.bitrate, took.Round(time.Second))
	w1, w2 := len("metric"), len("result")
	for _, r := range b.rows {
		w1, w2 = max(w1, len(r.metric)), max(w2, len(r.value))
	}
	fmt.Printf("| %-*s | %-*s | target |\n", w1, "metric", w2, "result")
	fmt.Printf("|%s|%s|--------|\n", strings.Repeat("-", w1+2), strings.Repeat("-", w2+2))
	for _, r := range b.rows {
		fmt.Printf("| %-*s | %-*s | %s |\n", w1, r.metric, w2, r.value, r.target)
	}
}

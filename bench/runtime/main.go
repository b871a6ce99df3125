// Command runtime benchmarks the frames-to-viewers runtime of
// toposync-streaming through the real binary: end-to-end latency per
// latency profile, time to a first frame at an idle output, CPU with a live
// writer and no viewer, and the throughput of the streaming ingest.
// bench/runtime/README.md explains every number.
//
//	go run ./bench/runtime [-duration 15s] [-frames 200] [-runs 5] [-throughput 5s]
//
// It builds ./cmd/toposync-streaming into a temp dir (or uses -bin), runs
// `serve --listen 127.0.0.1:0` with a temp data dir, enables the engine on
// free ports with runtime.stop_debounce_seconds 0.5, creates transmissions
// with one RTSP output each and measures. Writers (HTTP streaming ingest)
// run inside this process; readers are ffmpeg processes. It needs ffmpeg on
// PATH and Linux (/proc).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	bin        string
	cpuWindow  time.Duration
	frames     int
	warmup     time.Duration
	runs       int
	throughput time.Duration
	keep       bool
	scenario   string
	mirror     string
	// compare (make bench)
	quick        bool
	scaleTx      int
	scaleSize    string
	scaleProfile string
	engineFlags  string
	benchFile    string
	command      string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "toposync-streaming binary to run (default: go build ./cmd/toposync-streaming into a temp dir)")
	flag.DurationVar(&o.cpuWindow, "duration", 15*time.Second, "CPU measurement window of each no-viewer scenario (measurement 3)")
	flag.IntVar(&o.frames, "frames", 200, "frames measured per latency profile after the warm-up (measurement 1)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "frames discarded after a latency reader's first frame")
	flag.IntVar(&o.runs, "runs", 5, "runs of each first-frame measurement (measurement 2)")
	flag.DurationVar(&o.throughput, "throughput", 5*time.Second, "length of the ingest throughput run (measurement 4)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, data dir, service log)")
	flag.StringVar(&o.scenario, "scenario", "runtime", "runtime: measurements 1-4; sharing: 5 (the demo watched on its three outputs) and 6 (three pipelines on one RTSP camera); compare: make bench, ours beside MediaMTX; firstframe: the WHEP first frame of idle outputs split into its phases")
	flag.StringVar(&o.mirror, "mediamtx-mirror", filepath.Join("..", "shared", "mediamtx-mirror"), "MediaMTX release mirror directory; sharing plays the camera with its MediaMTX")
	flag.BoolVar(&o.quick, "quick", false, "compare: a short trial run of every measurement (1 round, few frames and readers, short windows); sets the flags not given")
	flag.IntVar(&o.scaleTx, "scale-transmissions", 16, "compare: transmissions of the scale load (0: skip it)")
	flag.StringVar(&o.scaleSize, "scale-size", "640x360", "compare: output size of the scale load")
	flag.StringVar(&o.scaleProfile, "scale-profile", "normal", "compare: latency profile of the scale load")
	flag.StringVar(&o.engineFlags, "engine-flags", "-duration 10s -baseline 5s -rtsp-readers 50 -whep-readers 10 -joins 5 -cold-starts 0", "compare: flags of each round's bench/engine -kind both run")
	flag.StringVar(&o.benchFile, "bench-file", "BENCHMARKS.md", "compare: file (relative to the module root) whose \"## make bench\" section is replaced; empty: print only")
	flag.Parse()
	o.command = strings.Join(append([]string{"go run ./bench/runtime"}, os.Args[1:]...), " ")
	if o.quick {
		given := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, v := range map[string]string{"runs": "1", "frames": "60", "warmup": "1s", "duration": "3s", "scale-transmissions": "4",
			"engine-flags": "-duration 3s -baseline 2s -rtsp-readers 10 -whep-readers 2 -joins 2 -cold-starts 0"} {
			if !given[name] {
				_ = flag.Set(name, v)
			}
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/runtime:", err)
		os.Exit(1)
	}
}

const (
	outW, outH = 1280, 720
	latFPS     = 30
	bitrate    = 4000 // kbps of every output
)

var profiles = []string{"normal", "low", "ultra_low"}

func run(o options) error {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return errors.New("needs Linux /proc")
	}
	tmp, err := os.MkdirTemp("", "toposync-bench-runtime-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("temp dir kept:", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	began := time.Now()
	fmt.Println("toposync-streaming runtime benchmark,", began.Format("2006-01-02 15:04:05 MST"))
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(tmp, "toposync-streaming")
		logf("building ./cmd/toposync-streaming")
		if err := build(bin); err != nil {
			return err
		}
	}
	switch o.scenario {
	case "sharing":
		return runSharing(ctx, o, bin, tmp)
	case "compare":
		if o.benchFile != "" && !filepath.IsAbs(o.benchFile) {
			root, err := moduleRoot()
			if err != nil {
				return err
			}
			o.benchFile = filepath.Join(root, o.benchFile)
		}
		return runCompare(ctx, o, bin, tmp)
	case "firstframe":
		return runFirstFrame(ctx, o, bin, tmp)
	case "runtime":
	default:
		return fmt.Errorf("-scenario %q: want runtime, sharing, compare or firstframe", o.scenario)
	}
	svc, err := startService(bin, filepath.Join(tmp, "data"), filepath.Join(tmp, "service.log"))
	if err != nil {
		return err
	}
	defer svc.stop()
	logf("service pid %d at %s", svc.pid, svc.base)
	if err := svc.enableEngine(0.5); err != nil {
		return err
	}
	lat := map[string]transmission{}
	for _, p := range profiles {
		t, err := svc.createTransmission("lat-"+strings.ReplaceAll(p, "_", "-"), outW, outH, latFPS, p, bitrate)
		if err != nil {
			return err
		}
		lat[p] = t
	}
	idle, err := svc.createTransmission("idle", outW, outH, 15, "normal", bitrate)
	if err != nil {
		return err
	}

	r := &report{opts: o, loadStart: machineLoad(svc.pid)}
	logf("machine: %s", r.loadStart)
	fmt.Println("\n1. end-to-end latency per profile")
	for _, p := range profiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := measureLatency(ctx, svc, lat[p], p, o)
		if err != nil {
			return fmt.Errorf("latency %s: %w", p, err)
		}
		r.latency = append(r.latency, res)
	}
	fmt.Println("\n2. reader connect -> first decoded frame")
	if err := measureFirstFrame(ctx, svc, lat, o, r); err != nil {
		return fmt.Errorf("first frame: %w", err)
	}
	fmt.Println("\n3. CPU with no viewer")
	if err := measureIdleCPU(ctx, svc, idle, o, r); err != nil {
		return fmt.Errorf("idle CPU: %w", err)
	}
	fmt.Println("\n4. streaming ingest throughput")
	if err := measureThroughput(ctx, svc, idle, o, r); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	r.loadEnd = machineLoad(svc.pid)
	r.print(time.Since(began))
	return nil
}

// ---- 1. latency ----

type latencyResult struct {
	profile                  string
	samples                  []float64 // ms
	unique, undecodable      int
	svcCPU, encCPU, readCPU  float64 // % of one core
	sentDelta, droppedDelta  uint64
	p50, p95, minMS, maxMS   float64
	readerFirstFrame         time.Duration
	measureSpan              time.Duration
	publisherRestarts        int
	encoderPID               int
	writerSent, writerFrames int
	// The warm-up: the latency of the reader's first frame, and how long
	// after it the latency first came down to the steady-state p95.
	warmFirst   float64
	warmSettle  time.Duration
	warmSamples []warmSample
}

type warmSample struct {
	after time.Duration // since the reader's first frame
	ms    float64
}

func measureLatency(ctx context.Context, svc *service, t transmission, profile string, o options) (latencyResult, error) {
	res := latencyResult{profile: profile}
	if err := svc.waitIdle(10 * time.Second); err != nil {
		return res, err
	}
	// Paced a little below 30 fps, so that the writer's phase against the
	// pump's 30 fps tick slides through one whole frame period over about
	// 240 frames: the pump's wait for the next tick (0-33 ms) is then
	// sampled evenly in every profile instead of being one random constant
	// per run.
	w := startWriter(ctx, svc, t.id, "bench:latency", fmt.Sprintf("width=%d&height=%d", outW, outH), latFPS*240.0/241.0, newStampedBGR(outW, outH))
	time.Sleep(300 * time.Millisecond)

	var first, measureStart, measureEnd time.Time
	var svcM, encM cpuMeter
	var before outputState
	seen := map[uint64]bool{}
	timeout := o.warmup + time.Duration(o.frames)*time.Second/latFPS*2 + 20*time.Second
	readerCPU0 := time.Duration(0)
	var readerPID int
	started, err := readFrames(ctx, t.url, readerNoBuffer, outW, outH, timeout, func(at time.Time, gray []byte) bool {
		if first.IsZero() {
			first = at
		}
		if at.Sub(first) < o.warmup {
			if stamp, ok := readCode(gray, outW); ok {
				res.warmSamples = append(res.warmSamples, warmSample{at.Sub(first), float64(at.Sub(epoch)-time.Duration(stamp)*time.Microsecond) / float64(time.Millisecond)})
			}
			return true
		}
		if measureStart.IsZero() {
			measureStart = at
			before, _ = svc.output(t.id)
			svcM = startCPU(svc.pid)
			if before.PublisherPID != nil {
				res.encoderPID = *before.PublisherPID
				encM = startCPU(res.encoderPID)
			}
			for _, c := range children(os.Getpid()) {
				if strings.HasPrefix(c, "ffmpeg(") {
					_, _ = fmt.Sscanf(c, "ffmpeg(%d)", &readerPID)
					readerCPU0 = procCPU(readerPID)
				}
			}
			return true // this frame waited for the calls above
		}
		stamp, ok := readCode(gray, outW)
		if !ok {
			res.undecodable++
			return true
		}
		res.samples = append(res.samples, float64(at.Sub(epoch)-time.Duration(stamp)*time.Microsecond)/float64(time.Millisecond))
		if !seen[stamp] {
			seen[stamp] = true
		}
		if len(res.samples) >= o.frames {
			measureEnd = at
			res.svcCPU = svcM.percent()
			if res.encoderPID != 0 {
				res.encCPU = encM.percent()
			}
			if readerPID != 0 {
				res.readCPU = 100 * float64(procCPU(readerPID)-readerCPU0) / float64(at.Sub(measureStart))
			}
			return false
		}
		return true
	})
	wr := w.stop()
	res.writerSent, res.writerFrames = wr.sent, wr.accepted
	if err != nil {
		return res, err
	}
	if len(res.samples) < o.frames {
		return res, fmt.Errorf("only %d decodable frames (%d undecodable)", len(res.samples), res.undecodable)
	}
	res.readerFirstFrame = first.Sub(started)
	res.measureSpan = measureEnd.Sub(measureStart)
	res.unique = len(seen)
	if after, err := svc.output(t.id); err == nil {
		res.sentDelta, res.droppedDelta = after.FramesSent-before.FramesSent, after.FramesDropped-before.FramesDropped
		res.publisherRestarts = after.Restarts
	}
	s := slices.Clone(res.samples)
	slices.Sort(s)
	res.p50, res.p95, res.minMS, res.maxMS = pct(s, 50), pct(s, 95), s[0], s[len(s)-1]
	res.warmFirst, res.warmSettle = math.NaN(), -1
	if len(res.warmSamples) > 0 {
		res.warmFirst = res.warmSamples[0].ms
	}
	for _, w := range res.warmSamples {
		if w.ms <= res.p95 {
			res.warmSettle = w.after
			break
		}
	}
	logf("%-9s p50 %5.1f ms  p95 %5.1f ms  (min %.1f, max %.1f; %d frames, %d distinct stamps, %d undecodable; encoder %.0f%%, service %.0f%%, reader %.0f%% of a core; pump sent %d dropped %d; reader's first frame after %v, %.0f ms old, latency <= p95 from %v after it)",
		profile, res.p50, res.p95, res.minMS, res.maxMS, len(s), res.unique, res.undecodable, res.encCPU, res.svcCPU, res.readCPU, res.sentDelta, res.droppedDelta,
		res.readerFirstFrame.Round(time.Millisecond), res.warmFirst, res.warmSettle.Round(time.Millisecond))
	return res, nil
}

// pct is the nearest-rank percentile of sorted s.
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---- 2. first frame ----

// firstFrameSeries is one first-frame measurement repeated.
type firstFrameSeries struct {
	profile    string
	reader     string    // readerNoProbe, readerNoBuffer or readerPlain
	cold       bool      // the publisher was stopped when the reader started
	plainCmd   bool      // total is the plain command's run time until it exits
	total      []float64 // ms: reader started -> first whole frame on stdout (or exit)
	pubStart   []float64 // ms: reader started -> "publisher started" received (cold)
	pathReady  []float64 // ms: reader started -> "path ready" received (cold: first keyframe at the engine)
	frameAge   []float64 // ms: age of the first frame's content when it arrived
	undecodedN int
}

func (f firstFrameSeries) label() string {
	state := "warm (publisher running)"
	if f.cold {
		state = "cold (publisher stopped)"
	}
	return fmt.Sprintf("%s, %s, %s", f.profile, state, f.reader)
}

func measureFirstFrame(ctx context.Context, svc *service, lat map[string]transmission, o options, r *report) error {
	for _, p := range []string{"ultra_low", "normal"} {
		t := lat[p]
		// A live writer, 15 fps, as a pipeline would run it.
		w := startWriter(ctx, svc, t.id, "bench:first", fmt.Sprintf("width=%d&height=%d", outW, outH), 15, newStampedBGR(outW, outH))
		readers := []string{readerNoProbe}
		if p == "ultra_low" {
			readers = append(readers, readerNoBuffer, readerPlain)
		}
		for _, rd := range readers {
			s := firstFrameSeries{profile: p, reader: rd, cold: true, plainCmd: rd == readerPlain}
			for range o.runs {
				if err := coldRun(ctx, svc, t, &s); err != nil {
					w.stop()
					return err
				}
			}
			r.first = append(r.first, s)
			logf("%-70s median %4.0f ms (runs %s); publisher started +%s ms, path ready +%s ms; first frame age %s ms",
				s.label(), median(s.total), fmtList(s.total), fmtList(s.pubStart), fmtList(s.pathReady), fmtList(s.frameAge))
		}
		if p == "ultra_low" {
			// Warm: the publisher already runs for another viewer.
			if err := warmRuns(ctx, svc, t, p, o, r); err != nil {
				w.stop()
				return err
			}
		}
		if wr := w.stop(); wr.err != nil {
			return wr.err
		}
	}
	return svc.waitIdle(10 * time.Second)
}

func warmRuns(ctx context.Context, svc *service, t transmission, profile string, o options, r *report) error {
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	held := make(chan error, 1)
	go func() {
		_, err := readFrames(hctx, t.url, readerNoProbe, outW, outH, 5*time.Minute, func(time.Time, []byte) bool { return true })
		held <- err
	}()
	if err := waitRunning(svc, t.id, 10*time.Second); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	for _, rd := range []string{readerNoProbe, readerNoBuffer} {
		s := firstFrameSeries{profile: profile, reader: rd}
		for i := range o.runs {
			var firstAt time.Time
			started, err := readFrames(ctx, t.url, rd, outW, outH, 15*time.Second, func(at time.Time, gray []byte) bool {
				firstAt = at
				if stamp, ok := readCode(gray, outW); ok {
					s.frameAge = append(s.frameAge, float64(at.Sub(epoch)-time.Duration(stamp)*time.Microsecond)/1e6)
				} else {
					s.undecodedN++
				}
				return false
			})
			if err != nil {
				return err
			}
			s.total = append(s.total, float64(firstAt.Sub(started))/1e6)
			// Spread the joins over the 1 s GOP instead of always joining
			// at the same point of it.
			time.Sleep(time.Duration(150+170*i) * time.Millisecond)
		}
		r.first = append(r.first, s)
		logf("%-70s median %4.0f ms (runs %s); first frame age %s ms", s.label(), median(s.total), fmtList(s.total), fmtList(s.frameAge))
	}
	hcancel()
	<-held
	return nil
}

// coldRun waits until t's publisher is stopped, then times one reader.
func coldRun(ctx context.Context, svc *service, t transmission, s *firstFrameSeries) error {
	if err := svc.waitIdle(10 * time.Second); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if o, err := svc.output(t.id); err != nil || o.PublisherRunning || o.PublisherPID != nil {
		return fmt.Errorf("publisher not idle before a cold run: %+v %v", o, err)
	}
	var total float64
	started := time.Now()
	if s.plainCmd {
		took, err := timeCommand(ctx, 20*time.Second, "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", t.url, "-frames:v", "1", "-f", "null", "-")
		if err != nil {
			return err
		}
		total = float64(took) / 1e6
	} else {
		var firstAt time.Time
		var err error
		started, err = readFrames(ctx, t.url, s.reader, outW, outH, 20*time.Second, func(at time.Time, gray []byte) bool {
			firstAt = at
			if stamp, ok := readCode(gray, outW); ok {
				s.frameAge = append(s.frameAge, float64(at.Sub(epoch)-time.Duration(stamp)*time.Microsecond)/1e6)
			} else {
				s.undecodedN++
			}
			return false
		})
		if err != nil {
			return err
		}
		total = float64(firstAt.Sub(started)) / 1e6
	}
	s.total = append(s.total, total)
	if at, ok := svc.logSince(started, "publisher started", "path="+t.path+" "); ok {
		s.pubStart = append(s.pubStart, float64(at.Sub(started))/1e6)
	}
	if at, ok := svc.logSince(started, "path ready", "path="+t.path+" "); ok {
		s.pathReady = append(s.pathReady, float64(at.Sub(started))/1e6)
	}
	return nil
}

// waitRunning waits until transmission tid's publisher runs.
func waitRunning(svc *service, tid string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		o, err := svc.output(tid)
		if err != nil {
			return err
		}
		if o.PublisherRunning {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publisher of %s not running within %v", tid, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fmtList(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, " ")
}

// ---- 3. CPU with no viewer ----

type cpuScenario struct {
	name      string
	svcCPU    float64 // % of one core
	selfCPU   float64 // this harness (the writer), % of one core
	frames    int     // frames the server accepted
	fps       float64
	noFFmpeg  bool
	evidence  string
	window    time.Duration
	mbPerSec  float64
	frameSize int
	rssMiB    float64
}

func measureIdleCPU(ctx context.Context, svc *service, t transmission, o options, r *report) error {
	if err := svc.waitIdle(10 * time.Second); err != nil {
		return err
	}
	jpg := testJPEG(320, 240)
	raw := newStampedBGR(outW, outH)
	scenarios := []struct {
		name  string
		query string
		fps   float64
		src   frameSource
		size  int
	}{
		{"no writer (runtime idle)", "", 0, nil, 0},
		{"writer 320x240 JPEG 5 fps", "format=jpeg", 5, fixedFrame(jpg), len(jpg)},
		{"writer 1280x720 raw BGR24 15 fps", fmt.Sprintf("width=%d&height=%d", outW, outH), 15, raw, outW * outH * 3},
	}
	for _, sc := range scenarios {
		if err := ctx.Err(); err != nil {
			return err
		}
		var w *streamWriter
		if sc.src != nil {
			w = startWriter(ctx, svc, t.id, "bench:cpu", sc.query, sc.fps, sc.src)
		}
		time.Sleep(time.Second) // let the writer settle
		res := cpuScenario{name: sc.name, noFFmpeg: true, frameSize: sc.size}
		var evidence []string
		check := func(when string) {
			outs, err := svc.outputs()
			if err != nil {
				res.noFFmpeg = false
				evidence = append(evidence, when+": "+err.Error())
				return
			}
			for _, o := range outs {
				if o.PublisherRunning || o.PublisherPID != nil {
					res.noFFmpeg = false
					evidence = append(evidence, fmt.Sprintf("%s: publisher of %s running (pid %v)", when, o.Path, o.PublisherPID))
				}
			}
			if kids := children(svc.pid); len(kids) > 0 {
				res.noFFmpeg = false
				evidence = append(evidence, fmt.Sprintf("%s: service children %v", when, kids))
			}
		}
		check("start")
		m := startCPU(svc.pid)
		self0 := selfCPU()
		half := time.After(o.cpuWindow / 2)
		end := time.After(o.cpuWindow)
		// No API calls inside the window except one check in the middle
		// (its cost, about a millisecond, is part of the figure).
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-half:
				check("middle")
			case <-end:
				break wait
			}
		}
		res.window = time.Since(m.wall)
		res.svcCPU = m.percent()
		res.selfCPU = 100 * float64(selfCPU()-self0) / float64(res.window)
		res.rssMiB = procRSS(svc.pid)
		check("end")
		if w != nil {
			wr := w.stop()
			if wr.err != nil {
				return wr.err
			}
			res.frames = wr.accepted
			res.fps = float64(wr.accepted) / wr.elapsed.Seconds()
			res.mbPerSec = res.fps * float64(sc.size) / 1e6
		}
		if len(evidence) == 0 {
			evidence = append(evidence, "publisher_running false and no child process at start, middle and end")
		}
		res.evidence = strings.Join(evidence, "; ")
		logf("%-34s service %.2f%% of a core over %v, RSS %.0f MiB (writer side %.1f%%, %.1f frames/s accepted); %s",
			sc.name, res.svcCPU, res.window.Round(10*time.Millisecond), res.rssMiB, res.selfCPU, res.fps, res.evidence)
		r.cpu = append(r.cpu, res)
	}
	return nil
}

// ---- 4. throughput ----

type throughputResult struct {
	frames           int
	elapsed          time.Duration
	fps, mbPerSec    float64
	svcCPU, selfCPU  float64
	publisherStarted bool
}

func measureThroughput(ctx context.Context, svc *service, t transmission, o options, r *report) error {
	frame := slices.Clone(newStampedBGR(outW, outH).next(0))
	m := startCPU(svc.pid)
	self0 := selfCPU()
	w := startWriter(ctx, svc, t.id, "bench:throughput", fmt.Sprintf("width=%d&height=%d", outW, outH), 0, fixedFrame(frame))
	select {
	case <-ctx.Done():
	case <-time.After(o.throughput):
	}
	wr := w.stop()
	if wr.err != nil {
		return wr.err
	}
	res := throughputResult{frames: wr.accepted, elapsed: wr.elapsed}
	res.svcCPU = m.percent()
	res.selfCPU = 100 * float64(selfCPU()-self0) / float64(time.Since(m.wall))
	res.fps = float64(wr.accepted) / wr.elapsed.Seconds()
	res.mbPerSec = res.fps * float64(len(frame)) / 1e6
	if o, err := svc.output(t.id); err == nil {
		res.publisherStarted = o.PublisherRunning
	}
	logf("%d frames in %v: %.1f frames/s, %.0f MB/s; service %.0f%%, client %.0f%% of a core", res.frames, res.elapsed.Round(time.Millisecond), res.fps, res.mbPerSec, res.svcCPU, res.selfCPU)
	r.throughput = res
	return nil
}

// ---- report ----

type report struct {
	opts       options
	loadStart  string
	loadEnd    string
	latency    []latencyResult
	first      []firstFrameSeries
	cpu        []cpuScenario
	throughput throughputResult
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (r *report) print(took time.Duration) {
	fmt.Printf("\nResults (%s, %d CPUs, ffmpeg %s, run took %v)\n\n", time.Now().Format("2006-01-02"), runtime.NumCPU(), ffmpegVersion(), took.Round(time.Second))
	line := func(what, result, target, v string) { fmt.Printf("%-78s %-34s %-16s %s\n", what, result, target, v) }
	line("measurement", "result", "target", "")

	byProfile := map[string]latencyResult{}
	for _, l := range r.latency {
		byProfile[l.profile] = l
		target, v := "", ""
		if l.profile == "ultra_low" {
			target, v = "<= 120 ms", verdict(l.p50 <= 120)
		}
		line(fmt.Sprintf("1. latency %s, 1280x720 @30 fps (%d frames)", l.profile, len(l.samples)),
			fmt.Sprintf("p50 %.0f ms, p95 %.0f ms (mean %.1f)", l.p50, l.p95, mean(l.samples)), target, v)
	}
	for _, pair := range [][2]string{{"normal", "low"}, {"low", "ultra_low"}, {"normal", "ultra_low"}} {
		a, okA := byProfile[pair[0]]
		b, okB := byProfile[pair[1]]
		if !okA || !okB {
			continue
		}
		d, ci := meanDiff(a.samples, b.samples)
		line(fmt.Sprintf("1. difference of means, %s - %s (95%% CI)", pair[0], pair[1]), fmt.Sprintf("%.1f ms +- %.1f", d, ci), "measurable", verdict(d-ci > 0))
	}
	for _, f := range r.first {
		target, v := "", ""
		if f.cold && f.reader == readerNoProbe {
			target, v = "<= 700 ms", verdict(median(f.total) <= 700)
		}
		res := fmt.Sprintf("median %.0f ms (%d runs)", median(f.total), len(f.total))
		if f.plainCmd {
			res = fmt.Sprintf("median %.0f ms to exit (%d)", median(f.total), len(f.total))
		}
		line("2. first frame: "+f.label(), res, target, v)
		if f.cold && len(f.pathReady) > 0 {
			line("     of which: reader start -> publisher started -> first keyframe at engine",
				fmt.Sprintf("%.0f ms -> %.0f ms", median(f.pubStart), median(f.pathReady)), "", "")
		}
	}
	var idle float64
	for i, c := range r.cpu {
		target, v := "no ffmpeg", verdict(c.noFFmpeg)
		res := fmt.Sprintf("%.2f%% of a core", c.svcCPU)
		if i == 0 {
			idle = c.svcCPU
			target, v = "<1% of a core", verdict(c.svcCPU < 1 && c.noFFmpeg)
		} else {
			res += fmt.Sprintf(" (ingest +%.2f)", c.svcCPU-idle)
		}
		line("3. service CPU, no viewer: "+c.name, res, target, v)
	}
	t := r.throughput
	line("4. streaming ingest, 1280x720 BGR24, one client, flat out", fmt.Sprintf("%.0f frames/s (%.0f MB/s)", t.fps, t.mbPerSec), ">= 30 frames/s", verdict(t.fps >= 30))
	line("4. service CPU during it", fmt.Sprintf("%.0f%% of a core", t.svcCPU), "", "")
	fmt.Printf("\nmachine at start: %s\nmachine at end:   %s\n\n", r.loadStart, r.loadEnd)
	fmt.Println("1. A writer in this process streams 1280x720 raw frames (~30 fps) through POST .../stream;")
	fmt.Println("   each frame carries the time it was made as a 48-bit barcode. An ffmpeg RTSP reader")
	fmt.Println("   (-fflags nobuffer -flags low_delay, gray rawvideo on stdout) decodes it; latency = time the")
	fmt.Println("   whole decoded frame was read from ffmpeg's stdout - stamped time, per output frame, after")
	fmt.Printf("   a %v warm-up. Includes ingest, the pump's wait for its next 30 fps tick (0-33 ms, mean ~17),\n", r.opts.warmup)
	fmt.Println("   x264 encode, RTSP publish, engine, RTSP read, decode and the reader's pipe.")
	fmt.Println("2. From starting the reader ffmpeg to its first whole decoded frame on stdout, with the output's")
	fmt.Println("   publisher stopped (cold) or already running for another viewer (warm); includes ffmpeg's")
	fmt.Println("   start-up. The target applies to the -fpsprobesize 0 reader: stock ffmpeg first waits for")
	fmt.Println("   20 frames to guess the frame rate, and -fflags nobuffer throws the probed packets (the first")
	fmt.Println("   keyframe, or the replayed GOP) away and waits for the next keyframe (up to 1 s).")
	fmt.Println("   The breakdown (median) comes from the service log lines' receipt times.")
	fmt.Println("3. utime+stime of the service (all threads, not children) from /proc/<pid>/stat over the window,")
	fmt.Println("   as % of one core; the increase over \"no writer\" is the cost of receiving and decoding frames.")
	fmt.Println("4. Frames the server acknowledged in its answer / request duration.")
}

func mean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// meanDiff is mean(a)-mean(b) and the half-width of its 95% confidence
// interval (normal approximation, unequal variances).
func meanDiff(a, b []float64) (float64, float64) {
	variance := func(v []float64) float64 {
		m, sum := mean(v), 0.0
		for _, x := range v {
			sum += (x - m) * (x - m)
		}
		return sum / float64(len(v)-1)
	}
	se := math.Sqrt(variance(a)/float64(len(a)) + variance(b)/float64(len(b)))
	return mean(a) - mean(b), 1.96 * se
}

func ffmpegVersion() string {
	out, err := exec.Command("ffmpeg", "-version").Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "?"
	}
	return f[2]
}

// machineLoad describes the load this run competes with: the load average
// and the ffmpeg and toposync-streaming processes that are not this run's.
func machineLoad(svcPID int) string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	load := "?"
	if len(f) >= 3 {
		load = strings.Join(f[:3], " ")
	}
	mine := map[int]bool{os.Getpid(): true, svcPID: true}
	others := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || mine[pid] {
			continue
		}
		_, ppid, comm, err := procStat(pid)
		if err != nil || mine[ppid] || isZombie(pid) {
			continue
		}
		if comm == "ffmpeg" || strings.HasPrefix(comm, "toposync-stream") {
			others++
		}
	}
	return fmt.Sprintf("load average %s; %d other ffmpeg/toposync-streaming processes running", load, others)
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	end := strings.LastIndexByte(string(raw), ')')
	f := strings.Fields(string(raw[end+1:]))
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

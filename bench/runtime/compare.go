package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/bench/internal/readers"
	table "github.com/toposync/toposync-streaming/bench/internal/report"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// The compare scenario (-scenario compare, `make bench`) runs our product
// and MediaMTX v1.20.1 side by side, round by round, with the same
// publisher and clients, and writes one table (BENCHMARKS.md, "make bench").

const (
	ours   = "toposync-streaming"
	theirs = "MediaMTX"
	// refX264 is what both MediaMTX reference publishers encode with.
	refX264 = "-pix_fmt yuv420p -c:v libx264 -preset veryfast -tune zerolatency -g 30 -keyint_min 30 -sc_threshold 0 -b:v 4M -maxrate 4M -bufsize 4M"
)

var protocols = []string{"rtsp", "webrtc", "hls"}

// reference is the standalone MediaMTX: path "direct" gets the harness's
// ffmpeg publisher, path "ondemand" is published by MediaMTX's runOnDemand.
type reference struct {
	cmd                    *exec.Cmd
	rtsp, hls, webrtc, api int
}

func (r *reference) url(proto, path string) string {
	switch proto {
	case "rtsp":
		return fmt.Sprintf("rtsp://127.0.0.1:%d/%s", r.rtsp, path)
	case "webrtc":
		return fmt.Sprintf("http://127.0.0.1:%d/%s/whep", r.webrtc, path)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/%s/index.m3u8", r.hls, path)
}

func startReference(ctx context.Context, o options, dir string) (*reference, error) {
	p, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	r := &reference{rtsp: p[0], hls: p[1], webrtc: p[2], api: p[3]}
	// The on-demand publisher: the same size and rate as our outputs, x264
	// veryfast zerolatency; MediaMTX stops it 1 s after the last reader.
	onDemand := fmt.Sprintf("ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=%dx%d:rate=%d %s -f rtsp -rtsp_transport tcp rtsp://127.0.0.1:$RTSP_PORT/$MTX_PATH",
		outW, outH, latFPS, refX264)
	conf := fmt.Sprintf(`logLevel: warn
rtspAddress: 127.0.0.1:%d
rtspTransports: [tcp]
hlsAddress: 127.0.0.1:%d
hlsVariant: mpegts
hlsMuxerCloseAfter: 1s
webrtcAddress: 127.0.0.1:%d
webrtcLocalUDPAddress: 127.0.0.1:%d
webrtcIPsFromInterfaces: no
webrtcAdditionalHosts: [127.0.0.1]
api: yes
apiAddress: 127.0.0.1:%d
rtmp: no
srt: no
moq: no
paths:
  ondemand:
    runOnDemand: %s
    runOnDemandCloseAfter: 1s
  all_others:
`, r.rtsp, r.hls, r.webrtc, r.webrtc, r.api, onDemand)
	if r.cmd, err = startMediaMTX(ctx, o, dir, conf); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.rtsp)); err == nil {
			c.Close()
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("reference MediaMTX does not listen; log in %s", dir)
		}
	}
}

// waitIdle waits until path has no source and MediaMTX runs no ffmpeg.
func (r *reference) waitIdle(path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var state struct {
			Ready bool `json:"ready"`
		}
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/%s", r.api, path))
		if err == nil {
			_ = json.NewDecoder(res.Body).Decode(&state)
			res.Body.Close()
			// 404: no source and no reader; a listed path must not be ready
			if (res.StatusCode == http.StatusNotFound || !state.Ready) && len(children(r.cmd.Process.Pid)) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reference path %s not idle after %v", path, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// directPublisher feeds stamped frames through ffmpeg's stdin (rawvideo,
// the same picture and pacing as our writer) into the reference's "direct".
func (r *reference) directPublisher(ctx context.Context, logPath string) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	args := append([]string{"-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", fmt.Sprintf("%dx%d", outW, outH),
		"-r", fmt.Sprint(latFPS), "-i", "-"}, strings.Fields(refX264)...)
	cmd := exec.CommandContext(ctx, "ffmpeg", append(args, "-f", "rtsp", "-rtsp_transport", "tcp", r.url("rtsp", "direct"))...)
	logF, err := os.Create(logPath)
	if err != nil {
		cancel()
		return nil, err
	}
	cmd.Stderr = logF
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pace(ctx, latFPS*240.0/241.0, newStampedBGR(outW, outH), func(b []byte) error { _, err := in.Write(b); return err })
		in.Close()
	}()
	stop = func() { cancel(); <-done; _ = cmd.Wait(); logF.Close() }
	// the reader must not DESCRIBE before the publisher has RECORDed
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var path struct {
			Ready bool `json:"ready"`
		}
		if res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/direct", r.api)); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&path)
			res.Body.Close()
		}
		if path.Ready {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("direct publisher not ready in 15 s; log in %s", logPath)
		}
	}
}

// steadyLatency reads url with the latency reader, drops the warm-up and
// returns the glass-to-glass latency (ms) of the next frames.
func steadyLatency(ctx context.Context, url string, o options) ([]float64, error) {
	var first time.Time
	var ms []float64
	_, err := readFrames(ctx, url, readerNoBuffer, outW, outH, o.warmup+time.Duration(o.frames)*time.Second/latFPS*2+20*time.Second, func(at time.Time, gray []byte) bool {
		if first.IsZero() {
			first = at
		}
		if stamp, ok := readCode(gray, outW); ok && at.Sub(first) >= o.warmup {
			ms = append(ms, float64(at.Sub(epoch)-time.Duration(stamp)*time.Microsecond)/1e6)
		}
		return len(ms) < o.frames
	})
	if err == nil && len(ms) < o.frames {
		err = fmt.Errorf("%s: only %d decodable frames", url, len(ms))
	}
	return ms, err
}

// firstFrame is one first-frame time (ms) on an idle output: RTSP from
// starting the reader ffmpeg to its first decoded frame, WHEP from before
// the offer to the first IDR with SPS/PPS, HLS from GET index.m3u8 to the
// first segment downloaded.
func firstFrame(ctx context.Context, proto, url string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t0 := time.Now()
	switch proto {
	case "rtsp":
		var at time.Time
		started, err := readFrames(ctx, url, readerNoProbe, outW, outH, 20*time.Second, func(t time.Time, _ []byte) bool { at = t; return false })
		return float64(at.Sub(started)) / 1e6, err
	case "webrtc":
		s, err := whep.Dial(ctx, url, "", "")
		if err != nil {
			return 0, err
		}
		defer s.Close()
		select {
		case <-s.FirstIDR():
			st := s.Stats()
			logf("    WHEP %s: %s", url, phases(st))
			return float64(st.FirstIDR.Sub(t0)) / 1e6, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("WHEP %s: no IDR: %w", url, ctx.Err())
		}
	}
	d, err := readers.HLSFirstSegment(ctx, url, fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	return float64(d) / 1e6, err
}

// createOutputs creates a transmission with one output per protocol and
// returns its id and the URL of each protocol.
func (s *service) createOutputs(path string, w, h, fps int, profile string, bitrate int, protos []string) (string, map[string]string, error) {
	var outs []string
	for _, p := range protos {
		outs = append(outs, fmt.Sprintf(`{"id":%q,"protocol":%q,"enabled":true,"resolution":{"width":%d,"height":%d},"fps_limit":%d,"bitrate_kbps":%d,"latency_profile":%q}`,
			p, p, w, h, fps, bitrate, profile))
	}
	var created struct {
		ID string `json:"id"`
	}
	body := fmt.Sprintf(`{"name":%q,"path":%q,"enabled":true,"outputs":[%s]}`, path, path, strings.Join(outs, ","))
	if err := s.callJSON("POST", "/transmissions", body, 200, &created); err != nil {
		return "", nil, err
	}
	var urls struct {
		Outputs []struct {
			ID  string `json:"output_id"`
			URL string `json:"url"`
		} `json:"outputs"`
	}
	if err := s.callJSON("GET", "/transmissions/"+created.ID+"/urls", "", 200, &urls); err != nil {
		return "", nil, err
	}
	m := map[string]string{}
	for i, u := range urls.Outputs {
		m[protos[i]] = u.URL
	}
	if len(m) != len(protos) {
		return "", nil, fmt.Errorf("transmission %s: %d URLs, want %d", path, len(m), len(protos))
	}
	return created.ID, m, nil
}

// startSides starts the reference MediaMTX and our service (embedded
// engine, demand debounce 0.5 s); stop ends both.
func startSides(ctx context.Context, o options, bin, tmp string) (ref *reference, svc *service, stop func(), err error) {
	if ref, err = startReference(ctx, o, filepath.Join(tmp, "reference")); err != nil {
		return nil, nil, nil, err
	}
	stopRef := func() { _ = ref.cmd.Process.Kill(); _ = ref.cmd.Wait() }
	if svc, err = startService(bin, filepath.Join(tmp, "data"), filepath.Join(tmp, "service.log")); err != nil {
		stopRef()
		return nil, nil, nil, err
	}
	stop = func() { svc.stop(); stopRef() }
	if err := svc.enableEngine(0.5); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return ref, svc, stop, nil
}

func runCompare(ctx context.Context, o options, bin, tmp string) error {
	began := time.Now()
	ref, svc, stop, err := startSides(ctx, o, bin, tmp)
	if err != nil {
		return err
	}
	defer stop()
	type tx struct {
		id   string
		urls map[string]string
	}
	txs := map[string]tx{}
	for _, p := range profiles {
		id, urls, err := svc.createOutputs("cmp-"+strings.ReplaceAll(p, "_", "-"), outW, outH, latFPS, p, bitrate, protocols)
		if err != nil {
			return err
		}
		txs[p] = tx{id, urls}
	}
	wake, err := svc.createWakeCase()
	if err != nil {
		return err
	}
	t := table.New(ours, theirs)
	var failed []string // first-frame samples that failed, listed under the table
	for round := 1; round <= o.runs; round++ {
		logf("round %d/%d: glass-to-glass", round, o.runs)
		stop, err := ref.directPublisher(ctx, filepath.Join(tmp, fmt.Sprintf("direct-%d.log", round)))
		if err != nil {
			return err
		}
		direct, err := steadyLatency(ctx, ref.url("rtsp", "direct"), o)
		stop()
		if err != nil {
			return fmt.Errorf("direct path: %w", err)
		}
		for _, p := range profiles {
			w := startWriter(ctx, svc, txs[p].id, "bench:compare", fmt.Sprintf("width=%d&height=%d", outW, outH), latFPS*240.0/241.0, newStampedBGR(outW, outH))
			lat, err := steadyLatency(ctx, txs[p].urls["rtsp"], o)
			if err == nil {
				for _, q := range []float64{50, 95} {
					name := fmt.Sprintf("glass-to-glass p%.0f, 720p30, %s (MediaMTX: ffmpeg x264 -> MediaMTX direct)", q, p)
					t.Add(ours, name, "ms", "", table.Percentile(lat, q))
					t.Add(theirs, name, "ms", "", table.Percentile(direct, q))
				}
				logf("%s p50 %.0f / direct p50 %.0f ms", p, table.Percentile(lat, 50), table.Percentile(direct, 50))
				err = firstFrames(ctx, svc, ref, p, txs[p].urls, t, &failed)
			}
			if wr := w.stop(); err == nil {
				err = wr.err
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		logf("round %d/%d: first frame after waking an on_demand pipeline", round, o.runs)
		if err := wakeFirstFrames(ctx, svc, ref, wake, t, &failed); err != nil {
			return fmt.Errorf("wake: %w", err)
		}
		if err := scaleRound(ctx, o, bin, filepath.Join(tmp, fmt.Sprintf("scale-%d", round)), t); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		if err := engineRound(ctx, o, bin, filepath.Join(tmp, fmt.Sprintf("engine-%d.json", round)), t); err != nil {
			return fmt.Errorf("bench/engine: %w", err)
		}
	}
	return writeCompare(o, t, failed, time.Since(began))
}

// settle waits until neither side runs an encoder for an idle output, then
// 300 ms more, so that every first-frame sample starts on a quiet machine.
// MediaMTX keeps its runOnDemand ffmpeg 1 s after the last reader: without
// this, our sample right after a MediaMTX one shared the CPU with it.
func settle(svc *service, ref *reference) error {
	if err := svc.waitIdle(15 * time.Second); err != nil {
		return err
	}
	if err := ref.waitIdle("ondemand", 15*time.Second); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return nil
}

// firstFrames measures each protocol once on profile p's idle outputs, then
// the same protocol on the reference's runOnDemand path. A sample that
// fails (either side) is left out of the table and listed in failed, so one
// stalled player does not throw the whole run away; the table's sample
// counts show it too.
func firstFrames(ctx context.Context, svc *service, ref *reference, p string, urls map[string]string, t *table.Table, failed *[]string) error {
	for _, proto := range protocols {
		name := fmt.Sprintf("first frame, idle output, %s, %s (MediaMTX: runOnDemand)", proto, p)
		if err := settle(svc, ref); err != nil {
			return err
		}
		a, err := firstFrame(ctx, proto, urls[proto])
		if err != nil {
			*failed = append(*failed, fmt.Sprintf("%s, ours: %v", name, err))
			logf("%s: ours failed: %v", name, err)
		} else {
			t.Add(ours, name, "ms", "", a)
		}
		if err := settle(svc, ref); err != nil {
			return err
		}
		b, err := firstFrame(ctx, proto, ref.url(proto, "ondemand"))
		if err != nil {
			*failed = append(*failed, fmt.Sprintf("%s, MediaMTX: %v", name, err))
			logf("%s: MediaMTX failed: %v", name, err)
		} else {
			t.Add(theirs, name, "ms", "", b)
		}
		logf("%s: ours %.0f ms, MediaMTX runOnDemand %.0f ms", name, a, b)
	}
	return nil
}

// wakeCase is a transmission (one output per protocol, normal profile) whose
// only writer is an on_demand pipeline reading the built-in test scene: with
// nobody watching the pipeline rests (no camera session, no compute) and
// the output's encoder is stopped.
type wakeCase struct {
	id   string
	urls map[string]string
}

const wakePipeline = "bench__wake"

func (s *service) createWakeCase() (wakeCase, error) {
	if err := s.callJSON("POST", "/../cameras", `{"id":"bench-scene","name":"Bench test scene","url":"testsrc","fps":30}`, 200, nil); err != nil {
		return wakeCase{}, err
	}
	id, urls, err := s.createOutputs("cmp-wake", outW, outH, latFPS, "normal", bitrate, protocols)
	if err != nil {
		return wakeCase{}, err
	}
	p := fmt.Sprintf(`{"name":%q,"enabled":true,"run_mode":"on_demand","graph":{"schema_version":1,"nodes":[`+
		`{"id":"source","type":"camera.source","config":{"camera_id":"bench-scene"}},`+
		`{"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q}}],`+
		`"edges":[{"from":{"node":"source","port":"out"},"to":{"node":"stream","port":"in"}}]}}`, wakePipeline, id)
	if err := s.callJSON("POST", "/../pipelines", p, 200, nil); err != nil {
		return wakeCase{}, err
	}
	return wakeCase{id, urls}, nil
}

// waitResting waits until the wake case's pipeline rests.
func (s *service) waitResting(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var st struct {
			State string `json:"state"`
		}
		if err := s.callJSON("GET", "/../pipelines/"+wakePipeline+"/status", "", 200, &st); err != nil {
			return err
		}
		if st.State == "resting" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pipeline %s still %s after %v", wakePipeline, st.State, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wakeFirstFrames measures, per protocol, the first frame at a reader of
// the wake case's output while its pipeline and encoder rest: the
// placeholder's IDR comes from the encoder the reader starts, the
// pipeline's picture follows once the woken pipeline delivers. For RTSP it
// also times the first frame that is the pipeline's (not the flat gray
// placeholder). MediaMTX's side is a runOnDemand first frame of the same
// round.
func wakeFirstFrames(ctx context.Context, svc *service, ref *reference, wake wakeCase, t *table.Table, failed *[]string) error {
	for _, proto := range protocols {
		name := fmt.Sprintf("first frame, on_demand pipeline woken, %s, normal (MediaMTX: runOnDemand)", proto)
		if err := svc.waitResting(15 * time.Second); err != nil {
			return err
		}
		if err := settle(svc, ref); err != nil {
			return err
		}
		var a, pic float64
		var err error
		if proto == "rtsp" {
			a, pic, err = wakeRTSP(ctx, wake.urls[proto])
		} else {
			a, err = firstFrame(ctx, proto, wake.urls[proto])
		}
		if err != nil {
			*failed = append(*failed, fmt.Sprintf("%s, ours: %v", name, err))
			logf("%s: ours failed: %v", name, err)
		} else {
			t.Add(ours, name, "ms", "", a)
		}
		if err := settle(svc, ref); err != nil {
			return err
		}
		b, err := firstFrame(ctx, proto, ref.url(proto, "ondemand"))
		if err != nil {
			*failed = append(*failed, fmt.Sprintf("%s, MediaMTX: %v", name, err))
			logf("%s: MediaMTX failed: %v", name, err)
			continue
		}
		t.Add(theirs, name, "ms", "", b)
		if proto == "rtsp" && pic > 0 {
			picName := "first pipeline frame (not the placeholder), on_demand pipeline woken, rtsp, normal (MediaMTX: runOnDemand first frame)"
			t.Add(ours, picName, "ms", "", pic)
			t.Add(theirs, picName, "ms", "", b)
		}
		if proto == "rtsp" {
			logf("%s: ours %.0f ms (the pipeline's picture at %.0f ms), MediaMTX runOnDemand %.0f ms", name, a, pic, b)
		} else {
			logf("%s: ours %.0f ms, MediaMTX runOnDemand %.0f ms", name, a, b)
		}
	}
	return nil
}

// wakeRTSP reads url from starting ffmpeg until the first frame that is not
// the flat placeholder, and returns the times (ms) of the first frame and
// of that one.
func wakeRTSP(ctx context.Context, url string) (first, picture float64, err error) {
	var at, pic time.Time
	started, err := readFrames(ctx, url, readerNoProbe, outW, outH, 20*time.Second, func(t time.Time, gray []byte) bool {
		if at.IsZero() {
			at = t
		}
		if !flat(gray) {
			pic = t
			return false
		}
		return true
	})
	if err == nil && pic.IsZero() {
		err = fmt.Errorf("%s: no pipeline picture within 20 s", url)
	}
	return float64(at.Sub(started)) / 1e6, float64(pic.Sub(started)) / 1e6, err
}

// flat reports whether a gray frame is one level everywhere (within the
// encoder's noise), as the placeholder is; the test scene never is.
func flat(gray []byte) bool {
	lo, hi := byte(255), byte(0)
	for i := 0; i < len(gray); i += 97 {
		lo, hi = min(lo, gray[i]), max(hi, gray[i])
	}
	return hi-lo < 24
}

// engineRound runs bench/engine -kind both for one round (joins, WHEP
// readers, RTSP readers per core, idle RSS) and merges its samples.
func engineRound(ctx context.Context, o options, bin, jsonPath string, t *table.Table) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := append([]string{"run", "./bench/engine", "-bin", bin, "-kind", "both", "-runs", "1", "-split", "-json", jsonPath, "-mediamtx-mirror", o.mirror}, strings.Fields(o.engineFlags)...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	logF, err := os.Create(strings.TrimSuffix(jsonPath, ".json") + ".log")
	if err != nil {
		return err
	}
	defer logF.Close()
	cmd.Stdout, cmd.Stderr = logF, logF
	logf("bench/engine %s (log %s)", strings.Join(args[2:], " "), logF.Name())
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v; see %s", err, logF.Name())
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var et table.Table
	if err := json.Unmarshal(raw, &et); err != nil {
		return err
	}
	t.Merge(&et, map[string]string{"embedded": ours, "mediamtx": theirs})
	return nil
}

// writeCompare prints the section and writes it into BENCHMARKS.md.
func writeCompare(o options, t *table.Table, failed []string, took time.Duration) error {
	var sb strings.Builder
	sb.WriteString("## make bench\n\n")
	fmt.Fprintf(&sb, "Date: %s. Machine: %d CPUs (nproc), %s, Go %s, ffmpeg %s. Took %v.\n\n",
		time.Now().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), strings.TrimPrefix(runtime.Version(), "go"), ffmpegVersion(), took.Round(time.Second))
	fmt.Fprintf(&sb, "```sh\n%s\n```\n\n", o.command)
	sb.WriteString("Cells: min / median / max (samples) over the rounds; the ratio is toposync-streaming ÷ MediaMTX, medians. " +
		"What each row measures: \"What make bench measures\" below.\n\n")
	sb.WriteString(t.Markdown())
	if len(failed) > 0 {
		sb.WriteString("\nSamples that failed (left out of the table):\n\n")
		for _, f := range failed {
			fmt.Fprintf(&sb, "- %s\n", f)
		}
	}
	section := sb.String()
	fmt.Println()
	fmt.Print(section)
	if o.benchFile == "" {
		return nil
	}
	doc, err := os.ReadFile(o.benchFile)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(o.benchFile, []byte(table.ReplaceSection(string(doc), "## make bench", section)), 0o644); err != nil {
		return err
	}
	fmt.Println("\nwritten into", o.benchFile)
	return nil
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "CPU ?"
	}
	defer f.Close()
	raw, _ := io.ReadAll(io.LimitReader(f, 1<<16))
	for l := range strings.Lines(string(raw)) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU ?"
}

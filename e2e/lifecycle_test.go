package e2e

import (
	"bufio"
	"bytes"
	"context"
	binenc "encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// startReader runs an ffmpeg RTSP reader that decodes until killed and
// records when each frame arrives.
type frameReader struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	at   []time.Time
	done chan struct{}
}

func startReader(t *testing.T, url string, w, h int) *frameReader {
	t.Helper()
	return startDecoder(t, []string{"-rtsp_transport", "tcp", "-i", url}, w, h)
}

// startDecoder is startReader for any input (input: ffmpeg's input
// options and -i).
func startDecoder(t *testing.T, input []string, w, h int) *frameReader {
	t.Helper()
	return startDecoderFunc(t, input, w, h, nil)
}

// startDecoderFunc is startDecoder that also hands each frame (rgb24,
// reused) to each, when set, on the reading goroutine.
func startDecoderFunc(t *testing.T, input []string, w, h int, each func(frame []byte)) *frameReader {
	t.Helper()
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error"}, input...), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &frameReader{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, w*h*3)
		in := bufio.NewReader(stdout)
		for {
			if _, err := io.ReadFull(in, buf); err != nil {
				return
			}
			r.mu.Lock()
			r.at = append(r.at, time.Now())
			r.mu.Unlock()
			if each != nil {
				each(buf)
			}
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *frameReader) stop() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		<-r.done
		_ = r.cmd.Wait()
	}
}

func (r *frameReader) frames() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.at)
}

// framesSince counts the frames decoded from since on.
func (r *frameReader) framesSince(since time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, at := range r.at {
		if !at.Before(since) {
			n++
		}
	}
	return n
}

// ended reports whether the reader's ffmpeg stopped (its session ended).
func (r *frameReader) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// longestGapSince is the longest time between two frames (or since the
// last one) from since on.
func (r *frameReader) longestGapSince(since time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gap time.Duration
	last := since
	for _, at := range r.at {
		if at.Before(since) {
			continue
		}
		gap = max(gap, at.Sub(last))
		last = at
	}
	return max(gap, time.Since(last))
}

// SIGTERM while a viewer reads, a writer writes and a streaming-ingest
// client keeps its upload open: the service used to wait the full 10 s for
// the upload and log "shutdown: context deadline exceeded".
func TestShutdownWithReaderWriterAndStreamingIngest(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "bye", "gray", "priority_latest"))
	// A writer that keeps putting frames through the shutdown (its errors
	// once the service is gone are expected).
	writing, stopWriting := context.WithCancel(context.Background())
	var writer sync.WaitGroup
	writer.Go(func() {
		url := fmt.Sprintf("%s/transmissions/%s/writers/putter/frame?width=%d&height=%d", f.base, f.id, f.w, f.h)
		for writing.Err() == nil {
			req, _ := http.NewRequestWithContext(writing, "PUT", url, bytes.NewReader(bgrFrame(f.w, f.h, rgb{200, 0, 0})))
			req.Header.Set("Content-Type", "application/octet-stream")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-writing.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	defer func() { stopWriting(); writer.Wait() }()
	testutil.Eventually(t, 5*time.Second, "the putting writer", func() bool { lc, _ := f.writerState("putter"); return lc != "" })
	reader := startReader(t, f.rtspURL, f.w, f.h)
	testutil.Eventually(t, 15*time.Second, "the reader decoding", func() bool { return reader.frames() > 5 })

	body, upload := io.Pipe()
	defer upload.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/transmissions/%s/writers/streamer/stream?width=%d&height=%d", f.base, f.id, f.w, f.h), body)
	req.Header.Set("Content-Type", "application/octet-stream")
	answered := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	frame := bgrFrame(f.w, f.h, rgb{0, 0, 200})
	var header [4]byte
	binenc.BigEndian.PutUint32(header[:], uint32(len(frame)))
	if _, err := upload.Write(append(header[:], frame...)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the streaming writer in the arbiter", func() bool {
		lc, _ := f.writerState("streamer")
		return lc != ""
	})

	start := time.Now()
	code := f.stop(syscall.SIGTERM)
	took := time.Since(start)
	if code != 0 || took > 3*time.Second {
		t.Fatalf("exit %d after %v, want 0 within 3s", code, took)
	}
	if log := f.log.String(); strings.Contains(log, "deadline exceeded") || strings.Contains(log, "were cut") {
		t.Errorf("shutdown was not clean:\n%s", log)
	}
	select {
	case status := <-answered:
		if status != http.StatusServiceUnavailable && status != 0 {
			t.Errorf("the streaming upload was answered %d, want 503 (told to end)", status)
		}
	case <-time.After(3 * time.Second):
		t.Error("the streaming upload got no answer")
	}
	t.Logf("SIGTERM to exit: %v", took.Round(time.Millisecond))
}

// Prime an output, then move the engine's RTSP port: within 8 s the new URL
// plays, and the publisher does not keep restarting against the old one.
func TestPrimeThenPortChange(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "moving", "gray", "priority_latest"))
	if status, out := f.call("POST", "/transmissions/"+f.id+"/demand/prime", ""); status != 200 {
		t.Fatalf("prime: %d %v", status, out)
	}
	// The encoder choice is probed first (four ffmpeg runs), which a loaded
	// CI machine has taken over 10 s to finish.
	testutil.Eventually(t, 30*time.Second, "the primed publisher", func() bool { return f.output()["publisher_running"] == true })
	next := testutil.FreePorts(t, 1)[0]
	if status, out := f.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"preferred_ports":{"rtsp":%d}}}`, next)); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	moved := time.Now()
	f.rtspURL = strings.Replace(f.rtspURL, fmt.Sprintf(":%d/", portOf(t, f.rtspURL)), fmt.Sprintf(":%d/", next), 1)
	testutil.Eventually(t, 8*time.Second, "the new RTSP URL playing", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", f.rtspURL).Run() == nil
	})
	t.Logf("new URL plays %v after the PATCH", time.Since(moved).Round(time.Millisecond))
	if n := f.output()["publisher_restart_count"]; n != float64(0) {
		t.Errorf("the publisher restarted %v times after the port change", n)
	}
}

func portOf(t *testing.T, url string) int {
	t.Helper()
	var port int
	rest := url[strings.LastIndex(url[:strings.LastIndex(url, "/")], ":")+1:]
	if _, err := fmt.Sscanf(rest, "%d/", &port); err != nil {
		t.Fatalf("no port in %s", url)
	}
	return port
}

// PATCH of the ICE servers while an RTSP reader reads: the engine is not
// restarted and the reader keeps receiving frames without a gap over 1 s.
func TestICEServersPatchKeepsReaders(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "steady", "gray", "priority_latest"))
	stopWriting := f.keepWriting("putter", rgb{0, 200, 0}, "")
	defer stopWriting()
	reader := startReader(t, f.rtspURL, f.w, f.h)
	testutil.Eventually(t, 15*time.Second, "the reader decoding", func() bool { return reader.frames() > 5 })
	_, before := f.call("GET", "/engine/status", "")

	patched := time.Now()
	if status, out := f.call("PATCH", "/settings", `{"engine":{"webrtc_ice_servers":["stun:127.0.0.1:3478"]}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	until := patched.Add(3 * time.Second)
	testutil.Eventually(t, 5*time.Second, "3 s of reading after the PATCH", func() bool { return time.Now().After(until) })
	if gap := reader.longestGapSince(patched); gap > time.Second {
		t.Errorf("the RTSP reader had a %v gap after the PATCH", gap)
	}
	_, after := f.call("GET", "/engine/status", "")
	b, a := before.(map[string]any), after.(map[string]any)
	if a["restart_count"] != b["restart_count"] || a["pid"] != b["pid"] || a["generation"] != b["generation"] {
		t.Errorf("the engine was restarted: before %v, after %v", b, a)
	}
	_, settings := f.call("GET", "/settings", "")
	if ice := settings.(map[string]any)["engine"].(map[string]any)["webrtc_ice_servers"]; fmt.Sprint(ice) != "[stun:127.0.0.1:3478]" {
		t.Errorf("ICE servers not stored: %v", ice)
	}
}

// A camera whose input fails at once (a missing file) reports its error in
// diagnostics within 3 s and retries with backoff (it used to wait 30 s).
func TestMissingCameraFileReportsItsError(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "nocam", "gray", "priority_latest"))
	missing := filepath.Join(f.mediaDir(), "gone.mp4")
	if status, out := f.call("POST", "/../cameras", fmt.Sprintf(`{"id":"gone","url":%q}`, missing)); status != 200 {
		t.Fatalf("camera: %d %v", status, out)
	}
	status, out := f.call("POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"gone","preset_id":"simple_stream"}`, f.id))
	if status != 200 {
		t.Fatalf("wizard: %d %v", status, out)
	}
	name := out.(map[string]any)["pipeline_name"].(string)
	created := time.Now()
	var restarts float64
	took := testutil.Eventually(t, 3*time.Second, "the camera's error in diagnostics", func() bool {
		_, d := f.call("GET", "/runtime/diagnostics", "")
		p, ok := d.(map[string]any)["pipelines"].(map[string]any)[name].(map[string]any)
		if !ok {
			return false
		}
		msg, _ := p["last_error"].(string)
		restarts, _ = p["restarts"].(float64)
		return strings.Contains(msg, "No such file")
	})
	t.Logf("error reported %v after the pipeline was created", took.Round(time.Millisecond))
	testutil.Eventually(t, 10*time.Second, "retries with backoff", func() bool {
		_, d := f.call("GET", "/runtime/diagnostics", "")
		p := d.(map[string]any)["pipelines"].(map[string]any)[name].(map[string]any)
		n, _ := p["restarts"].(float64)
		return n >= restarts+2
	})
	// Backoff, not a spin: 250 ms doubling gives a handful of restarts in
	// this time, never hundreds.
	_, d := f.call("GET", "/runtime/diagnostics", "")
	n := d.(map[string]any)["pipelines"].(map[string]any)[name].(map[string]any)["restarts"].(float64)
	if limit := time.Since(created).Seconds() * 4; n > limit {
		t.Errorf("%v restarts in %v: no backoff", n, time.Since(created))
	}
}

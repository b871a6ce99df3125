package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/whep"
)

// The sharing scenario (-scenario sharing) measures what sharing one camera
// pull and one encode saves: 5. the demo with one viewer on each of its
// three outputs; 6. three pipelines reading one RTSP camera.

// runSharing runs measurements 5 and 6 on fresh services.
func runSharing(ctx context.Context, o options, bin, tmp string) error {
	fmt.Println("\n5. the demo, one viewer on each output (RTSP, HLS, WHEP)")
	demo, err := measureDemo(ctx, o, bin, filepath.Join(tmp, "demo"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Println("\n6. three pipelines on one RTSP camera")
	cam, err := measureCameraPipelines(ctx, o, bin, filepath.Join(tmp, "camera"))
	if err != nil {
		return fmt.Errorf("camera pipelines: %w", err)
	}
	fmt.Printf("\nsharing summary (%s, window %v):\n", bin, o.cpuWindow)
	fmt.Printf("  demo, 3 viewers:       service+children %5.1f%% of one core, %d encoder(s), %d child process(es), RSS %.0f MiB\n",
		demo.cpu, demo.encoders, demo.children, demo.rss)
	fmt.Printf("  3 pipelines, 1 camera: service+children %5.1f%% of one core, %d camera session(s), %d child process(es), RSS %.0f MiB\n",
		cam.cpu, cam.sessions, cam.children, cam.rss)
	return nil
}

type sharingResult struct {
	cpu                          float64 // % of one core: service and its descendants
	rss                          float64 // MiB: the service alone
	encoders, children, sessions int
}

func measureDemo(ctx context.Context, o options, bin, dir string) (sharingResult, error) {
	svc, err := startService(bin, filepath.Join(dir, "data"), filepath.Join(dir+".log"), "--demo")
	if err != nil {
		return sharingResult{}, err
	}
	defer svc.stop()
	if err := svc.enableEngine(5); err != nil { // free ports instead of the demo's defaults
		return sharingResult{}, err
	}
	var urls struct {
		Outputs []struct {
			Protocol string `json:"protocol"`
			URL      string `json:"url"`
		} `json:"outputs"`
	}
	if err := svc.callJSON("GET", "/transmissions/demo/urls", "", 200, &urls); err != nil {
		return sharingResult{}, err
	}
	rctx, stopReaders := context.WithCancel(ctx)
	var readers []*exec.Cmd
	defer func() {
		stopReaders()
		for _, r := range readers {
			_ = r.Wait()
		}
	}()
	for _, out := range urls.Outputs {
		switch out.Protocol {
		case "rtsp", "hls":
			args := []string{"-hide_banner", "-loglevel", "error"}
			if out.Protocol == "rtsp" {
				args = append(args, "-rtsp_transport", "tcp")
			}
			r := exec.CommandContext(rctx, "ffmpeg", append(args, "-i", out.URL, "-an", "-f", "null", "-")...)
			if err := r.Start(); err != nil {
				return sharingResult{}, err
			}
			readers = append(readers, r)
		case "webrtc":
			sess, err := whep.Dial(rctx, out.URL, "", "")
			if err != nil {
				return sharingResult{}, fmt.Errorf("WHEP reader: %w", err)
			}
			defer sess.Close()
		}
	}
	if err := waitOutputs(svc, "demo", len(urls.Outputs), 30*time.Second); err != nil {
		return sharingResult{}, err
	}
	return measureTree(ctx, svc, o.cpuWindow, 0)
}

// waitOutputs waits until n outputs of transmission tid have a viewer and
// a running publisher.
func waitOutputs(svc *service, tid string, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		outs, err := svc.outputs()
		if err != nil {
			return err
		}
		ready := 0
		for _, o := range outs {
			if o.TransmissionID == tid && o.ViewerCount > 0 && o.PublisherRunning {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d outputs of %s watched and published after %v", ready, n, tid, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// measureTree waits 5 s for things to settle, then measures the service
// and its descendants over window. sessions, when > 0, is passed through.
func measureTree(ctx context.Context, svc *service, window time.Duration, sessions int) (sharingResult, error) {
	select {
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		return sharingResult{}, ctx.Err()
	}
	pids := descendants(svc.pid)
	before := treeCPU(pids)
	start := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return sharingResult{}, ctx.Err()
	}
	res := sharingResult{
		cpu:      100 * float64(treeCPU(pids)-before) / float64(time.Since(start)),
		rss:      procRSS(svc.pid),
		children: len(pids) - 1,
		sessions: sessions,
	}
	for _, pid := range pids[1:] {
		if cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(cmd), "-c:v\x00") {
			res.encoders++
		}
	}
	logf("cpu %.1f%% of one core, %d child processes (%d encoders), RSS %.0f MiB", res.cpu, res.children, res.encoders, res.rss)
	return res, nil
}

// descendants is pid and every process below it.
func descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		for _, c := range children(out[i]) {
			open := strings.LastIndexByte(c, '(')
			if n, err := strconv.Atoi(strings.TrimSuffix(c[open+1:], ")")); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func treeCPU(pids []int) time.Duration {
	var t time.Duration
	for _, p := range pids {
		t += procCPU(p)
	}
	return t
}

// measureCameraPipelines runs a MediaMTX as the camera (an ffmpeg
// publishing 1280x720 at 15 fps into it), three pipelines that read it and
// write to three transmissions nobody watches, and measures the service's
// CPU and the camera's reader sessions.
func measureCameraPipelines(ctx context.Context, o options, bin, dir string) (sharingResult, error) {
	camURL, sessions, stop, err := startCamera(ctx, o, dir)
	if err != nil {
		return sharingResult{}, err
	}
	defer stop()
	svc, err := startService(bin, filepath.Join(dir, "data"), filepath.Join(dir, "service.log"))
	if err != nil {
		return sharingResult{}, err
	}
	defer svc.stop()
	if err := svc.callJSON("POST", "/../cameras", fmt.Sprintf(`{"id":"cam","name":"Cam","url":%q}`, camURL), 200, nil); err != nil {
		return sharingResult{}, err
	}
	for i := range 3 {
		t, err := svc.createTransmission("cam-"+strconv.Itoa(i), outW, outH, 15, "normal", bitrate)
		if err != nil {
			return sharingResult{}, err
		}
		p := fmt.Sprintf(`{"name":"p%d","enabled":true,"graph":{"schema_version":1,"nodes":[`+
			`{"id":"source","type":"camera.source","config":{"camera_id":"cam"}},`+
			`{"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q}}],`+
			`"edges":[{"from":{"node":"source","port":"out"},"to":{"node":"stream","port":"in"}}]}}`, i, t.id)
		if err := svc.callJSON("POST", "/../pipelines", p, 200, nil); err != nil {
			return sharingResult{}, err
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; n < 1; {
		if n, err = sessions(); err != nil {
			return sharingResult{}, err
		}
		if time.Now().After(deadline) {
			return sharingResult{}, errors.New("no pipeline reads the camera after 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := measureTree(ctx, svc, o.cpuWindow, 0)
	if err != nil {
		return res, err
	}
	res.sessions, err = sessions()
	logf("camera reader sessions: %d", res.sessions)
	return res, err
}

// startCamera extracts MediaMTX from the mirror, runs it on free ports and
// publishes the test picture into it. sessions counts its RTSP readers.
func startCamera(ctx context.Context, o options, dir string) (url string, sessions func() (int, error), stop func(), err error) {
	p, err := freePorts(2)
	if err != nil {
		return "", nil, nil, err
	}
	conf := fmt.Sprintf("logLevel: warn\nrtspAddress: 127.0.0.1:%d\nrtspTransports: [tcp]\napi: yes\napiAddress: 127.0.0.1:%d\n"+
		"hls: no\nwebrtc: no\nrtmp: no\nsrt: no\nmoq: no\npaths:\n  all_others:\n", p[0], p[1])
	cctx, cancel := context.WithCancel(ctx)
	mtx, err := startMediaMTX(cctx, o, dir, conf)
	if err != nil {
		cancel()
		return "", nil, nil, err
	}
	url = fmt.Sprintf("rtsp://127.0.0.1:%d/cam", p[0])
	pub := exec.CommandContext(cctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-b:v", "2M",
		"-f", "rtsp", "-rtsp_transport", "tcp", url)
	stop = func() {
		cancel()
		_ = pub.Wait()
		_ = mtx.Wait()
	}
	// ffmpeg gives up at once when nothing listens yet
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, nil, fmt.Errorf("the camera's MediaMTX does not listen: %w", err)
		}
	}
	if err := pub.Start(); err != nil {
		stop()
		return "", nil, nil, err
	}
	api := fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/cam", p[1])
	sessions = func() (int, error) {
		resp, err := http.Get(api)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var path struct {
			Readers []struct {
				Type string `json:"type"`
			} `json:"readers"`
		}
		if resp.StatusCode == http.StatusNotFound {
			return 0, nil // no publisher yet
		}
		if err := json.NewDecoder(resp.Body).Decode(&path); err != nil {
			return 0, err
		}
		return len(slices.DeleteFunc(path.Readers, func(r struct {
			Type string `json:"type"`
		}) bool {
			return r.Type != "rtspSession" && r.Type != "rtspsSession"
		})), nil
	}
	return url, sessions, stop, nil
}

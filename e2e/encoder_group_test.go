package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// The demo's outputs (internal/app/demo.go) at a smaller size: RTSP, HLS and
// WebRTC with one encoding.
const demoLikeOutputs = `{"name":"Demo","path":"demo","outputs":[
	{"id":"rtsp","protocol":"rtsp","resolution":{"width":480,"height":272},"fps_limit":15,"bitrate_kbps":1000,"latency_profile":"ultra_low"},
	{"id":"hls","protocol":"hls","resolution":{"width":480,"height":272},"fps_limit":15,"bitrate_kbps":1000,"latency_profile":"ultra_low"},
	{"id":"webrtc","protocol":"webrtc","resolution":{"width":480,"height":272},"fps_limit":15,"bitrate_kbps":1000,"latency_profile":"ultra_low"}]}`

// Issue 12 item 2: the demo's RTSP, HLS and WebRTC outputs were three
// encoders of one picture. Watched at once, outputs that encode
// identically now run one encoder, and every reader decodes its picture,
// on both engines.
func TestIdenticalOutputsWatchedAtOnceRunOneEncoder(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { identicalOutputsRunOneEncoder(t, kind, env) })
	}
}

func identicalOutputsRunOneEncoder(t *testing.T, kind string, env []string) {
	s := startService(t, t.TempDir(), env...)
	s.runEngine(kind, testutil.FreePorts(t, 4))
	f := s.fixtureFor(demoLikeOutputs)
	stop := f.keepWriting("pipe:red", red, "")
	defer stop()
	urls := map[string]string{}
	_, out := s.call("GET", "/transmissions/"+f.id+"/urls", "")
	for _, o := range out.(map[string]any)["outputs"].([]any) {
		o := o.(map[string]any)
		urls[o["output_id"].(string)] = o["url"].(string)
	}

	rtsp := startReader(t, urls["rtsp"], f.w, f.h)
	hls := startDecoder(t, []string{"-i", urls["hls"]}, f.w, f.h)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := (&whep.Dialer{RecordAUs: 20}).Dial(ctx, urls["webrtc"], "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	testutil.Eventually(t, 30*time.Second, "the RTSP, HLS and WHEP readers decoding", func() bool {
		return rtsp.frames() > 5 && hls.frames() > 3 && sess.Stats().Frames > 20
	})

	outputs := map[string]map[string]any{}
	_, out = s.call("GET", "/runtime/outputs", "")
	for _, o := range out.(map[string]any)["outputs"].([]any) {
		if o := o.(map[string]any); o["transmission_id"] == f.id {
			outputs[o["output_id"].(string)] = o
		}
	}
	pid, group := outputs["rtsp"]["publisher_pid"], outputs["rtsp"]["encoder_group"]
	for id, o := range outputs {
		if o["publisher_pid"] == nil || o["publisher_pid"] != pid || o["encoder_group"] == nil || o["encoder_group"] != group {
			t.Errorf("output %s: publisher_pid %v, encoder_group %v; rtsp: %v, %v: want one shared encoder", id, o["publisher_pid"], o["encoder_group"], pid, group)
		}
	}
	encoders := encodersOfSize(t, s.cmd.Process.Pid, f.w, f.h)
	if len(encoders) != 1 || float64(encoders[0]) != pid {
		t.Errorf("encoder processes %v of %dx%d, want just the shared one (%v)", encoders, f.w, f.h, pid)
	}

	// Each reader decodes the writer's picture at the output's size.
	var annexB bytes.Buffer
	if _, err := sess.WriteAnnexB(&annexB); err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string][]string{
		"RTSP": {"-rtsp_transport", "tcp", "-i", urls["rtsp"]},
		"HLS":  {"-i", urls["hls"]},
		"WHEP": {"-f", "h264", "-i", "pipe:0"},
	} {
		frame := lastFrame(t, input, &annexB, 15, f.w, f.h)
		if c := f.centre(frame); !c.near(red, 40) {
			t.Errorf("%s reader: centre %v, want red", name, c)
		}
	}
	for name, r := range map[string]*frameReader{"RTSP": rtsp, "HLS": hls} {
		if r.ended() {
			t.Errorf("the %s reader's session ended", name)
		}
	}
}

// encodersOfSize are the encoders (raw frames on stdin) of w x h among the
// processes below pid.
func encodersOfSize(t *testing.T, pid, w, h int) []int {
	t.Helper()
	var out []int
	for _, p := range testutil.Descendants(t, pid) {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(string(raw), "\x00")
		if strings.Contains(string(raw), "\x00bgr24\x00") && strings.Contains(string(raw), "\x00pipe:0\x00") &&
			strings.Contains(strings.Join(argv, " "), fmt.Sprintf(" -s %dx%d ", w, h)) {
			out = append(out, p)
		}
	}
	return out
}

// lastFrame decodes n frames of input (stdin: for pipe:0) as rgb24 and
// returns the last; they must be w x h.
func lastFrame(t *testing.T, input []string, stdin io.Reader, n, w, h int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append(append([]string{"-v", "error"}, input...),
		"-frames:v", strconv.Itoa(n), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")...)
	if input[len(input)-1] == "pipe:0" {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("decode %v: %v: %s", input, err, stderr.String())
	}
	size := w * h * 3
	if stdout.Len() == 0 || stdout.Len()%size != 0 {
		t.Fatalf("decode %v: %d bytes, not whole %dx%d frames", input, stdout.Len(), w, h)
	}
	return stdout.Bytes()[stdout.Len()-size:]
}

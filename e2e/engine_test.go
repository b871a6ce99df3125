package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// probe runs ffprobe on url and returns "codec WIDTHxHEIGHT" of the first
// video stream.
func probe(t *testing.T, url string, extra ...string) string {
	t.Helper()
	args := append([]string{"-v", "error", "-rw_timeout", "15000000"}, extra...)
	args = append(args, "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0:s=x", url)
	out, err := exec.Command("ffprobe", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("error %v: %s", err, out)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n") // HLS lists the stream twice
	fields := strings.SplitN(first, "x", 2)
	if len(fields) != 2 {
		return strings.TrimSpace(string(out))
	}
	return fields[0] + " " + fields[1]
}

func TestEngineLifecycleAndTestPattern(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	data := t.TempDir()
	s := startService(t, data)
	p := enginePorts(t, testutil.FreePorts(t, 4))
	if status, out := s.call("PATCH", "/settings", `{"engine":{"preferred_ports":`+portsJSON(p)+`}}`); status != 200 {
		t.Fatalf("patch ports: %d %v", status, out)
	}
	_, out := s.call("POST", "/transmissions", `{"name":"Lobby","path":"lobby","outputs":[{"id":"main","protocol":"rtsp","authentication":{"enabled":true,"username":"viewer","password":"pw"}}]}`)
	id := out.(map[string]any)["id"].(string)

	status, out := s.call("POST", "/engine/start", "")
	st := out.(map[string]any)
	if status != 200 || st["running"] != true || st["kind"] != "embedded" {
		t.Fatalf("start: %d %v", status, out)
	}
	urls := st["urls"].(map[string]any)

	// The test pattern plays over RTSP (TCP and UDP) and HLS, on demand.
	for name, check := range map[string]func() string{
		"rtsp tcp": func() string { return probe(t, urls["rtsp_url"].(string), "-rtsp_transport", "tcp") },
		"rtsp udp": func() string { return probe(t, urls["rtsp_url"].(string), "-rtsp_transport", "udp") },
		"hls":      func() string { return probe(t, urls["hls_url"].(string)) },
	} {
		if got := check(); got != "h264 640x360" {
			t.Errorf("%s: %s", name, got)
		}
	}

	// Readers show in the MediaMTX-shaped API while they read.
	reader := exec.Command("ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", urls["rtsp_url"].(string), "-t", "20", "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { reader.Process.Kill(); reader.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/test", p[3]))
		if err != nil {
			t.Fatal(err)
		}
		var path struct {
			Ready   bool `json:"ready"`
			Readers []struct {
				Type string `json:"type"`
			} `json:"readers"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&path)
		resp.Body.Close()
		if path.Ready && len(path.Readers) == 1 && path.Readers[0].Type == "rtspSession" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader not listed: %+v", path)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// URLs use the engine's actual ports and no longer warn.
	_, out = s.call("GET", "/transmissions/"+id+"/urls", "")
	u := out.(map[string]any)
	if u["engine_running"] != true || len(u["warnings"].([]any)) != 0 ||
		u["outputs"].([]any)[0].(map[string]any)["url"] != fmt.Sprintf("rtsp://127.0.0.1:%d/lobby", p[0]) {
		t.Errorf("urls = %v", u)
	}
	// Read auth applies to a transmission's path.
	if got := probe(t, fmt.Sprintf("rtsp://127.0.0.1:%d/lobby", p[0]), "-rtsp_transport", "tcp"); !strings.Contains(got, "401") {
		t.Errorf("lobby without credentials: %s", got)
	}

	// The engine comes back with the service, on the same ports.
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s = startService(t, data)
	_, out = s.call("GET", "/engine/status", "")
	st = out.(map[string]any)
	if st["running"] != true || fmt.Sprint(st["ports"]) != fmt.Sprintf("map[api:%d hls:%d rtcp:%d rtp:%d rtsp:%d webrtc:%d]", p[3], p[1], p[4]+1, p[4], p[0], p[2]) {
		t.Errorf("after service restart: %v", st)
	}
	status, out = s.call("POST", "/engine/stop", "")
	if status != 200 || out.(map[string]any)["running"] != false {
		t.Errorf("stop: %d %v", status, out)
	}
	_, out = s.call("GET", "/settings", "")
	if out.(map[string]any)["engine"].(map[string]any)["enabled"] != false {
		t.Error("stop did not persist")
	}
}

package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// GET /runtime/outputs: outputs that encode identically name one encoder
// group and report its one process; each reports what really runs (here
// h264_nvenc is asked for and fails its probe: libx264, no hardware, and
// the warning says why).
func TestRuntimeOutputsReportTheSharedEncoder(t *testing.T) {
	testutil.RequireFFmpeg(t)
	c := newServer(t, "local")
	p := testutil.FreePorts(t, 4)
	c.expect(200, "PATCH", "/settings", fmt.Sprintf(`{"engine":{"enabled":true,"h264_encoder":"h264_nvenc",
		"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d,"rtp":%d}}}`, p[0], p[1], p[2], p[3], testutil.FreeRTPPort(t)))
	id := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[
		{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"hls","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"small","protocol":"rtsp","resolution":{"width":160,"height":120},"fps_limit":10}]}`)["id"].(string)
	testutil.Eventually(t, 10*time.Second, "the engine running", func() bool {
		return c.expect(200, "GET", "/engine/status", nil)["running"] == true
	})
	if got := c.expect(200, "POST", "/transmissions/"+id+"/demand/prime", nil); got["primed_outputs"] != 3.0 {
		t.Fatalf("prime: %v", got)
	}
	byID := map[string]map[string]any{}
	testutil.Eventually(t, 30*time.Second, "every output's encoder running", func() bool {
		for _, o := range c.expect(200, "GET", "/runtime/outputs", nil)["outputs"].([]any) {
			o := o.(map[string]any)
			byID[o["output_id"].(string)] = o
		}
		for _, o := range byID {
			if o["publisher_running"] != true {
				return false
			}
		}
		return len(byID) == 3
	})
	rtsp, hls, small := byID["rtsp"], byID["hls"], byID["small"]
	if rtsp["encoder_group"] == nil || rtsp["encoder_group"] != hls["encoder_group"] || rtsp["publisher_pid"] != hls["publisher_pid"] {
		t.Errorf("rtsp and hls: groups %v, %v, pids %v, %v: want one shared encoder", rtsp["encoder_group"], hls["encoder_group"], rtsp["publisher_pid"], hls["publisher_pid"])
	}
	if small["encoder_group"] == rtsp["encoder_group"] || small["publisher_pid"] == rtsp["publisher_pid"] {
		t.Errorf("small: group %v, pid %v: want an encoder of its own", small["encoder_group"], small["publisher_pid"])
	}
	if g, want := fmt.Sprint(rtsp["encoder_group"]), id+"/320x240/10fps/default-rate/normal/h264_nvenc"; g != want {
		t.Errorf("encoder_group %q, want %q", g, want)
	}
	for name, o := range byID {
		if o["publisher_active_codec"] != "libx264" || o["publisher_hardware_accelerated"] != false ||
			!strings.Contains(fmt.Sprint(o["publisher_encoder_warning"]), "h264_nvenc") {
			t.Errorf("%s: codec %v, hardware %v, warning %v: want libx264 without hardware and the fallback warning", name,
				o["publisher_active_codec"], o["publisher_hardware_accelerated"], o["publisher_encoder_warning"])
		}
	}
}

// TestWritesAnswerOnceTheEngineServesThem: the answer to creating or
// deleting a transmission comes once the engine serves the change, so a
// client can use (or no longer reach) its URLs right away. A WHEP offer
// without the login is 401 for a path the engine knows and 404 for one it
// does not; before, the path reached the engine a moment after the answer
// (a fresh transmission's URL was sometimes 404).
func TestWritesAnswerOnceTheEngineServesThem(t *testing.T) {
	c := newServer(t, "local")
	p := testutil.FreePorts(t, 4)
	c.expect(200, "PATCH", "/settings", fmt.Sprintf(`{"engine":{"enabled":true,
		"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d,"rtp":%d}}}`, p[0], p[1], p[2], p[3], testutil.FreeRTPPort(t)))
	testutil.Eventually(t, 10*time.Second, "the engine running", func() bool {
		return c.expect(200, "GET", "/engine/status", nil)["running"] == true
	})
	const tx = `{"name":"Gate","path":"gate","outputs":[{"id":"rtc","protocol":"webrtc",
		"authentication":{"enabled":true,"username":"viewer","password":"s3cret"}}]}`
	offer := func(url string) int {
		resp, err := http.Post(url, "application/sdp", strings.NewReader("v=0\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// the same path every round, so the same URL
	id := c.expect(200, "POST", "/transmissions", tx)["id"].(string)
	url := c.expect(200, "GET", "/transmissions/"+id+"/urls", nil)["outputs"].([]any)[0].(map[string]any)["url"].(string)
	for i := range 20 {
		if i > 0 {
			id = c.expect(200, "POST", "/transmissions", tx)["id"].(string)
		}
		if got := offer(url); got != http.StatusUnauthorized {
			t.Fatalf("round %d: WHEP offer right after the create: %d, want 401", i, got)
		}
		c.expect(200, "DELETE", "/transmissions/"+id, nil)
		if got := offer(url); got != http.StatusNotFound {
			t.Fatalf("round %d: WHEP offer right after the delete: %d, want 404", i, got)
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// TestDistributedHosting runs a core and a processing server ("edge-1") as
// two real processes on this machine. The processing server pulls its
// settings from the core every second (with the sync credentials the core
// requires), so it gets the transmission the core assigns to it and the
// core's engine settings.
//
// Ports: both engines get the same preferred ports (one engine
// configuration for the cluster). The core's engine is started first and
// holds them; the processing server's engine then finds them taken and
// moves to the next free ports (the documented port remapping). Its
// internal URL endpoint reports the ports it really uses, so the URLs the
// core proxies point at the processing server's engine, not the core's.
//
// It runs on both engine kinds: the processing server takes the kind with
// the core's engine settings.
func TestDistributedHosting(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { distributedHosting(t, kind, env) })
	}
}

func distributedHosting(t *testing.T, kind string, env []string) {
	// Both servers protect their API; the processing server pulls with a
	// bearer token, which the core checks (issue 11: it used to be ignored),
	// and the core calls the processing server with its API login.
	syncCreds := append([]string{"TOPOSYNC_STREAMING_SYNC_BEARER_TOKEN=edge-sync-token"}, env...)
	core := startService(t, t.TempDir(), append(syncCreds, "TOPOSYNC_STREAMING_API_USERNAME=admin", "TOPOSYNC_STREAMING_API_PASSWORD=core-pass")...)
	p := testutil.FreePorts(t, 4)
	core.runEngine(kind, p)

	coreRoot := strings.TrimSuffix(core.base, "/api/streams")
	edge := startService(t, t.TempDir(), append(syncCreds,
		"TOPOSYNC_STREAMING_API_USERNAME=edge-admin", "TOPOSYNC_STREAMING_API_PASSWORD=edge-pass",
		"TOPOSYNC_ROLE=processing", "TOPOSYNC_PROCESSING_SERVER_ID=Edge-1",
		"TOPOSYNC_STREAMING_SYNC_CORE_URL="+coreRoot, "TOPOSYNC_STREAMING_SYNC_INTERVAL_SECONDS=1")...)
	edgeRoot := strings.TrimSuffix(edge.base, "/api/streams")

	// Unknown hosts are refused until the server is registered.
	status, out := core.call("POST", "/transmissions", `{"name":"Gate","path":"gate","host_server_id":"edge-1"}`)
	if status != 400 || out.(map[string]any)["detail"] != "Unknown host_server_id: edge-1" {
		t.Fatalf("unregistered host: %d %v", status, out)
	}
	if status, out := core.call("POST", "/../processing-servers", `{"id":"edge-1","name":"Edge","url":"`+edgeRoot+`","username":"edge-admin","password":"edge-pass"}`); status != 200 {
		t.Fatalf("register: %d %v", status, out)
	}
	status, out = core.call("POST", "/transmissions", `{"name":"Gate","path":"gate","host_server_id":"edge-1",
		"outputs":[{"id":"main","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"}]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out.(map[string]any)["id"].(string)

	// The processing server picks it up with the next sync, and runs the engine.
	testutil.Eventually(t, 15*time.Second, "transmission synced to the processing server", func() bool {
		_, out := edge.call("GET", "/transmissions", "")
		list := out.([]any)
		return len(list) == 1 && list[0].(map[string]any)["id"] == id
	})
	var edgeRTSP float64
	testutil.Eventually(t, 60*time.Second, "processing server engine running", func() bool {
		_, out := edge.call("GET", "/engine/status", "")
		st := out.(map[string]any)
		if st["running"] != true || st["kind"] != kind {
			return false
		}
		edgeRTSP = st["ports"].(map[string]any)["rtsp"].(float64)
		return true
	})
	if int(edgeRTSP) == p[0] {
		t.Fatalf("both engines on RTSP port %d", p[0])
	}

	// The core answers with the processing server's URLs.
	status, out = core.call("GET", "/transmissions/"+id+"/urls", "")
	if status != 200 {
		t.Fatalf("urls: %d %v", status, out)
	}
	urls := out.(map[string]any)
	rtspURL := urls["outputs"].([]any)[0].(map[string]any)["url"].(string)
	if want := fmt.Sprintf("rtsp://127.0.0.1:%d/gate", int(edgeRTSP)); rtspURL != want {
		t.Errorf("url %s, want %s", rtspURL, want)
	}
	var warnings []string
	for _, w := range urls["warnings"].([]any) {
		warnings = append(warnings, w.(string))
	}
	if !slices.Contains(warnings, "Resolved via processing server 'edge-1'.") || !slices.Contains(warnings, "URLs normalized to host '127.0.0.1'.") {
		t.Errorf("warnings %q", warnings)
	}

	// Frames published into the processing server play from that URL.
	stop := publishEvery(t, edge.authorization, edge.base+"/transmissions/"+id+"/writers/cam:detect/frame?width=320&height=240", bgrFrame(320, 240, rgb{200, 40, 40}))
	if got := probe(t, rtspURL, "-rtsp_transport", "tcp"); got != "h264 320x240" {
		t.Errorf("ffprobe %s: %s", rtspURL, got)
	}
	stop()

	// Demand is answered by the processing server too.
	if status, out := core.call("GET", "/transmissions/"+id+"/demand", ""); status != 200 || out.(map[string]any)["transmission_id"] != id {
		t.Errorf("demand: %d %v", status, out)
	}

	// A processing server that is down gives 502.
	if code := edge.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("processing server exit %d", code)
	}
	status, out = core.call("GET", "/transmissions/"+id+"/urls", "")
	detail, _ := out.(map[string]any)["detail"].(string)
	if status != 502 || !strings.HasPrefix(detail, "Failed to resolve URLs from processing server 'edge-1': Connection failed: ") {
		t.Errorf("down: %d %v", status, out)
	}
	// It cannot be deleted while the transmission uses it.
	if status, out := core.call("DELETE", "/../processing-servers/edge-1", ""); status != 409 || !strings.Contains(fmt.Sprint(out), "transmission 'Gate'") {
		t.Errorf("delete in use: %d %v", status, out)
	}
	for _, secret := range []string{"edge-sync-token", "core-pass", "edge-pass"} {
		if strings.Contains(edge.log.String(), secret) || strings.Contains(core.log.String(), secret) {
			t.Errorf("a log shows the secret %q", secret)
		}
	}
}

// publishEvery PUTs frame to url (with the Authorization header auth, when
// set) every 100 ms until stop is called.
func publishEvery(t *testing.T, auth, url string, frame []byte) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, "PUT", url, bytes.NewReader(frame))
			req.Header.Set("Content-Type", "application/octet-stream")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("PUT frame: %d", resp.StatusCode)
				}
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

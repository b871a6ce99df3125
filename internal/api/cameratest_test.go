package api

import (
	"fmt"
	"image/jpeg"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// cameraTestServer is an API with a real camera hub (real ffmpeg) whose
// camera tests wait at most timeout, checked against openapi.json.
func cameraTestServer(t *testing.T, timeout time.Duration) (*checkedClient, *camerahub.Hub) {
	t.Helper()
	testutil.RequireFFmpeg(t)
	bin, _ := exec.LookPath("ffmpeg")
	hub := &camerahub.Hub{FFmpeg: bin}
	if err := hub.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	c := newCheckedClient(t, newServerWith(t, "local", func(o *Options) {
		o.Cameras = hub
		o.CameraTestTimeout = timeout
	}))
	return c, hub
}

// testPicture posts a camera test and, for a 200, decodes the JPEG's size.
func testPicture(t *testing.T, c *checkedClient, query, body string) (status int, w, h int, detail any) {
	t.Helper()
	resp, err := http.Post(c.base+"/../cameras/test"+query, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		_, v := c.call("POST", "/../cameras/test"+query, "", body) // again, checked against the document
		return resp.StatusCode, 0, 0, v.(map[string]any)["detail"]
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Fatalf("Content-Type %q", ct)
	}
	cfg, err := jpeg.DecodeConfig(resp.Body)
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	return 200, cfg.Width, cfg.Height, nil
}

// decoders are this process's children that decode camera frames (an
// RTSP camera's decoder or a local camera's ffmpeg: BGR24 on stdout),
// not the test camera's encoder.
func decoders(t *testing.T) []string {
	var out []string
	for _, pid := range testutil.Descendants(t, os.Getpid()) {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.ReplaceAll(string(cmd), "\x00", " "); strings.Contains(args, "bgr24") {
			out = append(out, args)
		}
	}
	return out
}

// POST /api/cameras/test opens a draft as pipelines do and answers one
// frame: the test scene, an RTSP camera with the stored password when the
// draft sends none; a refused URL is a 422 at url, wrong credentials and
// an unreachable camera a 502 that says so, silence a 504. Nothing keeps
// running after an answer.
func TestCameraTest(t *testing.T) {
	c, hub := cameraTestServer(t, 8*time.Second)
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "admin", Password: "cam-s3cret"})
	noneLeft := func(what string) {
		t.Helper()
		if left := decoders(t); len(left) > 0 {
			t.Errorf("%s: decoders left running: %q", what, left)
		}
	}

	if status, w, h, d := testPicture(t, c, "?width=320", `{"name":"Scene","url":"testsrc"}`); status != 200 || w != 320 || h != 180 {
		t.Errorf("test scene: %d %dx%d %v", status, w, h, d)
	}
	noneLeft("test scene")

	c.expect(200, "POST", "/../cameras", fmt.Sprintf(`{"id":"ipcam","name":"IP cam","url":%q,"username":"admin","password":"cam-s3cret"}`, cam.URL))
	// The form sends what it shows: no password member keeps the stored one.
	if status, w, h, d := testPicture(t, c, "", fmt.Sprintf(`{"id":"ipcam","name":"IP cam","url":%q,"username":"admin"}`, cam.URL)); status != 200 || w != 320 || h != 240 {
		t.Errorf("stored password: %d %dx%d %v", status, w, h, d)
	}
	noneLeft("rtsp camera")
	if st := hub.Status(camerahub.Source{URL: cam.URL, Username: "admin", Password: "cam-s3cret"}); st.SessionsOpened != 0 {
		t.Errorf("the test's camera record was kept: %+v", st)
	}

	status, _, _, detail := testPicture(t, c, "", fmt.Sprintf(`{"id":"ipcam","name":"IP cam","url":%q,"username":"admin","password":"wrong-pass"}`, cam.URL))
	if msg := fmt.Sprint(detail); status != 502 || !strings.Contains(msg, "IP cam") || !strings.Contains(msg, "username and password") || strings.Contains(msg, "wrong-pass") {
		t.Errorf("wrong password: %d %v", status, detail)
	}
	// An explicit null clears the stored password for the test: refused too.
	if status, _, _, detail := testPicture(t, c, "", fmt.Sprintf(`{"id":"ipcam","url":%q,"username":"admin","password":null}`, cam.URL)); status != 502 {
		t.Errorf("no password: %d %v", status, detail)
	}
	noneLeft("wrong password")

	status, _, _, detail = testPicture(t, c, "", `{"name":"Web","url":"http://127.0.0.1/cam.mjpg"}`)
	if loc := fmt.Sprint(detail); status != 422 || !strings.Contains(loc, "url") {
		t.Errorf("refused URL: %d %v", status, detail)
	}

	closed := testutil.FreePorts(t, 1)[0]
	status, _, _, detail = testPicture(t, c, "", fmt.Sprintf(`{"name":"Gone","url":"rtsp://127.0.0.1:%d/cam"}`, closed))
	if msg := fmt.Sprint(detail); status != 502 || !strings.Contains(msg, "Gone") || !strings.Contains(msg, "refused") {
		t.Errorf("unreachable: %d %v", status, detail)
	}
	c.expect(400, "POST", "/../cameras/test?width=1", `{"url":"testsrc","name":"x"}`)
	c.expect(400, "POST", "/../cameras/test?size=1", `{"url":"testsrc","name":"x"}`)
	c.expect(422, "POST", "/../cameras/test", `{"name":"x"}`)
	noneLeft("failures")
}

// A camera that accepts the connection and says nothing ends in a 504
// within the test's time, and no more than two tests run at once: a third
// is told to come back (503, Retry-After).
func TestCameraTestIsBounded(t *testing.T) {
	c, _ := cameraTestServer(t, time.Second)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns sync.WaitGroup
	conns.Go(func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never answered, until the listener closes
		}
	})
	defer conns.Wait()
	defer silent.Close()
	body := fmt.Sprintf(`{"name":"Mute","url":"rtsp://%s/cam"}`, silent.Addr())

	statuses := make(chan int, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			resp, err := http.Post(c.base+"/../cameras/test", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[504] != 2 || count[503] != 1 {
		t.Errorf("statuses %v, want two 504 and one 503", count)
	}
	start := time.Now()
	status, _, _, detail := testPicture(t, c, "", body)
	if msg := fmt.Sprint(detail); status != 504 || !strings.Contains(msg, "Mute") || time.Since(start) > 5*time.Second {
		t.Errorf("silent camera: %d after %v: %v", status, time.Since(start), detail)
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/budget"
	"github.com/toposync/toposync-streaming/internal/frame"
)

// getSnapshot GETs a snapshot and, for a 200, decodes the JPEG.
func (c *client) getSnapshot(path string) (int, *frame.Frame, map[string]any) {
	c.t.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		var detail map[string]any
		if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &detail) != nil {
			c.t.Fatalf("GET %s: %d %q %s: want a JSON error", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		return resp.StatusCode, nil, detail
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "image/jpeg" || cc != "no-store" {
		c.t.Fatalf("GET %s: Content-Type %q Cache-Control %q", path, ct, cc)
	}
	f, err := frame.Decode("image/jpeg", body)
	if err != nil {
		c.t.Fatalf("GET %s: not a JPEG: %v", path, err)
	}
	return 200, f, nil
}

// bgrAt is the colour of a pixel, as BGR.
func bgrAt(f *frame.Frame, x, y int) [3]int {
	i := (y*f.Width + x) * 3
	return [3]int{int(f.Data[i]), int(f.Data[i+1]), int(f.Data[i+2])}
}

func nearBGR(got [3]int, b, g, r int) bool {
	near := func(a, b int) bool { return a-b <= 12 && b-a <= 12 }
	return near(got[0], b) && near(got[1], g) && near(got[2], r)
}

// Issue 13 item 3: a snapshot shows what viewers see now (the placeholder,
// then the writer's frame), at the output's size or scaled to a width, with
// no viewer, no publisher and no engine running.
func TestSnapshotShowsWhatViewersSee(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "PATCH", "/settings", `{"runtime":{"sticky_seconds":0}}`)
	id := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","placeholder":"black","outputs":[
		{"id":"hd","protocol":"rtsp","resolution":{"width":1280,"height":720}},
		{"id":"small","protocol":"hls","resolution":{"width":640,"height":360}},
		{"id":"off","protocol":"webrtc","enabled":false}]}`)["id"].(string)
	gray := c.expect(200, "POST", "/transmissions", `{"name":"Gate","path":"gate"}`)["id"].(string)
	snap := "/transmissions/" + id + "/snapshot"

	// No writer: the placeholder, at the largest output, an output's size, or a width.
	for _, tc := range []struct {
		query string
		w, h  int
	}{{"", 1280, 720}, {"?output=small", 640, 360}, {"?output=small&width=320", 320, 180}, {"?width=100", 100, 56}} {
		status, f, detail := c.getSnapshot(snap + tc.query)
		if status != 200 || f.Width != tc.w || f.Height != tc.h || !nearBGR(bgrAt(f, tc.w/2, tc.h/2), 0, 0, 0) {
			t.Errorf("placeholder%s: %d %v, want a black %dx%d picture", tc.query, status, detail, tc.w, tc.h)
		} else if status == 200 && !nearBGR(bgrAt(f, 1, 1), 0, 0, 0) {
			t.Errorf("placeholder%s is not black at its corner: %v", tc.query, bgrAt(f, 1, 1))
		}
	}
	if _, f, _ := c.getSnapshot("/transmissions/" + gray + "/snapshot"); f == nil || !nearBGR(bgrAt(f, 10, 10), 127, 127, 127) {
		t.Errorf("gray placeholder: %v", f)
	}

	// A red 320x240 writer: its own size, or contained in an output's size
	// (black bars left and right), or scaled to a width.
	if status, out := c.send("PUT", "/transmissions/"+id+"/writers/cam/frame", "image/png", bytes.NewReader(pngOf(320, 240, color.RGBA{255, 0, 0, 255}))); status != 202 {
		t.Fatalf("publish: %d %v", status, out)
	}
	_, f, _ := c.getSnapshot(snap)
	if f == nil || f.Width != 320 || f.Height != 240 || !nearBGR(bgrAt(f, 160, 120), 0, 0, 255) {
		t.Fatalf("writer's frame: %+v", f)
	}
	_, f, _ = c.getSnapshot(snap + "?output=small")
	if f == nil || f.Width != 640 || f.Height != 360 || !nearBGR(bgrAt(f, 320, 180), 0, 0, 255) || !nearBGR(bgrAt(f, 20, 180), 0, 0, 0) {
		t.Fatalf("contained in the small output: %+v", f)
	}
	_, f, _ = c.getSnapshot(snap + "?width=160")
	if f == nil || f.Width != 160 || f.Height != 120 || !nearBGR(bgrAt(f, 80, 60), 0, 0, 255) {
		t.Fatalf("scaled to width 160: %+v", f)
	}
}

// Bad parameters are 4xx with a detail that says what to send; nothing is
// encoded for them.
func TestSnapshotRefusesBadParameters(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[
		{"id":"hd","protocol":"rtsp"},{"id":"off","protocol":"hls","enabled":false}]}`)["id"].(string)
	bare := c.expect(200, "POST", "/transmissions", `{"name":"Bare","path":"bare","outputs":[]}`)["id"].(string)
	// A frame 16 pixels wide and 4320 high: no width keeps it under 4320 rows.
	if status, out := c.send("PUT", "/transmissions/"+bare+"/writers/w/frame?width=16&height=4320", "application/octet-stream", bytes.NewReader(make([]byte, 16*4320*3))); status != 202 {
		t.Fatalf("publish: %d %v", status, out)
	}
	snap := "/transmissions/" + id + "/snapshot"
	for _, tc := range []struct {
		path   string
		status int
		detail string
	}{
		{snap + "?output=nope", 400, "no enabled output \"nope\": use one of hd"},
		{snap + "?output=off", 400, "no enabled output \"off\""},
		{"/transmissions/" + bare + "/snapshot?output=default", 400, "has no enabled output: leave output out"},
		{snap + "?width=abc", 400, "width must be a whole number of pixels from 16 to 3840"},
		{snap + "?width=8", 400, "from 16 to 3840"},
		{snap + "?width=7680", 400, "from 16 to 3840"},
		{snap + "?widht=320", 400, `Unknown query parameter "widht": a snapshot takes output and width`},
		{snap + "?width=320&width=640", 400, "given 2 times"},
		{"/transmissions/" + bare + "/snapshot?width=3840", 400, "ask for a width of at most 16"},
		{"/transmissions/nope/snapshot", 404, "Transmission not found"},
	} {
		status, f, out := c.getSnapshot(tc.path)
		if status != tc.status || f != nil || !strings.Contains(out["detail"].(string), tc.detail) {
			t.Errorf("GET %s: %d %v, want %d with %q", tc.path, status, out, tc.status, tc.detail)
		}
	}
	if status, f, out := c.getSnapshot("/transmissions/" + bare + "/snapshot"); status != 200 || f.Width != 16 || f.Height != 4320 {
		t.Errorf("tall frame unscaled: %d %v", status, out)
	}
}

// A transmission hosted on a processing server has its frames there.
func TestSnapshotOfARemoteTransmission(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "POST", "/../processing-servers", `{"id":"edge-1","url":"http://127.0.0.1:1"}`)
	c.expect(200, "PATCH", "/settings", remoteTransmission)
	status, _, out := c.getSnapshot("/transmissions/t1/snapshot")
	if status != 409 || !strings.Contains(out["detail"].(string), "hosted on processing server 'edge-1'") {
		t.Errorf("remote: %d %v", status, out)
	}
}

// A snapshot takes its share of the frame budget: while it is taken the
// request waits DecodeWait and is refused with 503 and Retry-After.
func TestSnapshotWaitsForTheBudget(t *testing.T) {
	decodes := budget.New(1 << 20)
	c := newServerWith(t, "local", func(o *Options) {
		o.Ingest.Decodes = decodes
		o.Ingest.DecodeWait = 100 * time.Millisecond
	})
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	release, err := decodes.Acquire(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(c.base + "/transmissions/" + id + "/snapshot?width=64")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("busy: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	release()
	if status, f, out := c.getSnapshot("/transmissions/" + id + "/snapshot?width=64"); status != 200 || f.Width != 64 {
		t.Errorf("free again: %d %v", status, out)
	}
}

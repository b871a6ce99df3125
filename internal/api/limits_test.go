package api

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/budget"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// smallTransmission has one 64x36 output: it takes frames of up to
// 4 x 64 x 36 = 9216 pixels.
const smallTransmission = `{"name":"Small","path":"small","outputs":[{"protocol":"rtsp","resolution":{"width":64,"height":36}}]}`

// A frame larger than the transmission takes is refused with 413 from its
// header (encoded) or its query (raw), before any pixel is decoded.
func TestFrameSizeLimit(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", smallTransmission)["id"].(string)
	put := func(query, contentType string, body []byte) (int, string) {
		status, out := c.send("PUT", "/transmissions/"+id+"/writers/w/frame"+query, contentType, bytes.NewReader(body))
		return status, fmt.Sprint(out["detail"])
	}
	if status, detail := put("", "image/png", pngOf(128, 72, color.White)); status != 202 {
		t.Fatalf("at the limit: %d %s", status, detail)
	}
	if status, detail := put("", "image/png", pngOf(72, 128, color.White)); status != 202 {
		t.Fatalf("portrait at the limit: %d %s", status, detail)
	}
	for name, tc := range map[string]struct {
		query, contentType string
		body               []byte
	}{
		"png":          {"", "image/png", pngOf(129, 72, color.White)},
		"raw":          {"?width=129&height=72", "application/octet-stream", nil},
		"16-bit 8K":    {"", "image/png", testutil.ZeroPNG(7680, 4320, 16, testutil.PNGRGBA)},
		"jpeg, tall":   {"", "image/jpeg", jpegOf(t, 10, 1000)},
		"raw, gray 8K": {"?width=7680&height=4320&format=gray", "application/octet-stream", nil},
	} {
		if status, detail := put(tc.query, tc.contentType, tc.body); status != 413 || !strings.Contains(detail, "at most 9216 pixels") || !strings.Contains(detail, "64x36") {
			t.Errorf("%s: %d %s, want 413 naming the limit", name, status, detail)
		}
	}
	stream := func(query string, frames ...[]byte) (int, string) {
		status, out := c.send("POST", "/transmissions/"+id+"/writers/s/stream"+query, "application/octet-stream", streamBody(frames...))
		return status, fmt.Sprint(out["detail"])
	}
	if status, detail := stream("?format=png", pngOf(8, 8, color.White), pngOf(129, 72, color.White)); status != 413 || !strings.Contains(detail, "frame 2: The frame is 129x72") {
		t.Errorf("stream: %d %s", status, detail)
	}
	if status, detail := stream("?width=129&height=72"); status != 413 || !strings.Contains(detail, "9216 pixels") {
		t.Errorf("raw stream: %d %s", status, detail)
	}
}

// The 258 KB PNG of 7680x4320 16-bit RGBA pixels took the service from
// 84 MB to 548 MB: refused from its header, it costs about its own size.
func TestHugePNGIsRefusedCheaply(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t","outputs":[{"protocol":"hls"}]}`)["id"].(string)
	body := testutil.ZeroPNG(7680, 4320, 16, testutil.PNGRGBA)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	status, out := c.send("PUT", "/transmissions/"+id+"/writers/w/frame", "image/png", bytes.NewReader(body))
	runtime.ReadMemStats(&after)
	if status != 413 {
		t.Fatalf("%d %v", status, out)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("refusing a %d-byte PNG allocated %d MB", len(body), got>>20)
	}
}

// While the decode budget is taken, a frame waits DecodeWait and is then
// refused with 503 and Retry-After; once it is free, frames go through.
func TestDecodeBudgetBusy(t *testing.T) {
	decodes := budget.New(1 << 20)
	c := newServerWith(t, "local", func(o *Options) {
		o.Ingest.Decodes = decodes
		o.Ingest.DecodeWait = 200 * time.Millisecond
	})
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	release, err := decodes.Acquire(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	put := func() (*http.Response, string) {
		req, _ := http.NewRequest("PUT", c.base+"/transmissions/"+id+"/writers/w/frame", bytes.NewReader(pngOf(8, 8, color.White)))
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	start := time.Now()
	resp, body := put()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "decode budget") || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("busy: %d Retry-After %q %s after %v", resp.StatusCode, resp.Header.Get("Retry-After"), body, time.Since(start))
	}
	status, out := c.send("POST", "/transmissions/"+id+"/writers/s/stream?width=4&height=2", "application/octet-stream", streamBody(make([]byte, 24)))
	if status != 503 || !strings.Contains(fmt.Sprint(out["detail"]), "frame 1: The server is decoding") {
		t.Errorf("busy stream: %d %v", status, out)
	}
	release()
	if resp, body := put(); resp.StatusCode != 202 {
		t.Fatalf("free again: %d %s", resp.StatusCode, body)
	}
}

// One client address may have PerClient ingest requests in progress; the
// next is refused with 429 until one ends.
func TestIngestPerClientCap(t *testing.T) {
	c := newServerWith(t, "local", func(o *Options) { o.Ingest.PerClient = 2 })
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	// Two streams in progress: raw connections that sent their headers (a
	// Go client would keep them in its buffer until body bytes come).
	u, err := url.Parse(c.base)
	if err != nil {
		t.Fatal(err)
	}
	var uploads []net.Conn
	for i := range 2 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		uploads = append(uploads, conn)
		fmt.Fprintf(conn, "POST %s/transmissions/%s/writers/s%d/stream?width=4&height=2 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n", u.Path, id, i, u.Host)
		// One frame (4-byte length, 4x2 BGR) in one chunk: the stream is
		// inside the handler once its writer shows up.
		fmt.Fprintf(conn, "1c\r\n\x00\x00\x00\x18%s\r\n", strings.Repeat("\x00", 24))
		wid := fmt.Sprintf("s%d", i)
		testutil.Eventually(t, 5*time.Second, "stream "+wid+" in progress", func() bool { _, ok := writerLifecycle(c, id, wid); return ok })
	}
	defer func() {
		for _, u := range uploads {
			u.Close()
		}
	}()
	frame := func() (int, string) {
		status, out := c.send("PUT", "/transmissions/"+id+"/writers/w/frame?width=4&height=2", "application/octet-stream", bytes.NewReader(make([]byte, 24)))
		return status, fmt.Sprint(out["detail"])
	}
	testutil.Eventually(t, 5*time.Second, "429 at the cap", func() bool { status, _ := frame(); return status == 429 })
	if status, detail := frame(); status != 429 || !strings.Contains(detail, "2 frame uploads in progress") {
		t.Fatalf("%d %s", status, detail)
	}
	uploads[0].Close()
	testutil.Eventually(t, 5*time.Second, "a slot once a stream ended", func() bool { status, _ := frame(); return status == 202 })
}

// A stream that stalls is ended with 408 after the idle time, its writer
// closed; a PUT .../frame body has an overall deadline; a JSON body that
// stalls is cut too.
func TestStalledBodies(t *testing.T) {
	const idle = 300 * time.Millisecond
	c := newServerIdle(t, "local", idle, func(o *Options) { o.Ingest.FrameUpload = 2 * idle })
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)

	// slowly sends first, then one byte every gap until the request ends.
	slowly := func(method, path string, first []byte, gap time.Duration) (int, string, time.Duration) {
		body, upload := io.Pipe()
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := upload.Write(first); err != nil {
				return
			}
			for gap > 0 {
				time.Sleep(gap)
				if _, err := upload.Write([]byte{0}); err != nil {
					return
				}
			}
		})
		defer wg.Wait()
		defer upload.Close()
		req, _ := http.NewRequest(method, c.base+path, body)
		req.Header.Set("Content-Type", "application/octet-stream")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(start)
	}
	status, detail, took := slowly("POST", "/transmissions/"+id+"/writers/s/stream?width=4&height=2", streamBody(make([]byte, 24)).Bytes(), 0)
	if status != 408 || !strings.Contains(detail, "frame 2: the request body sent nothing for 300ms") || took > idle+2*time.Second {
		t.Errorf("stalled stream: %d %s after %v", status, detail, took)
	}
	if lc, _ := writerLifecycle(c, id, "s"); lc != "close" {
		t.Errorf("the stalled stream's writer is %q, want closed", lc)
	}
	status, detail, took = slowly("PUT", "/transmissions/"+id+"/writers/w/frame?width=400&height=200", nil, idle/3)
	if status != 408 || !strings.Contains(detail, "not complete within") || took > 2*idle+2*time.Second {
		t.Errorf("trickling frame upload: %d %s after %v", status, detail, took)
	}
	status, detail, _ = slowly("PUT", "/transmissions/"+id, []byte(`{"name":`), 0)
	if status != 408 || !strings.Contains(detail, "sent nothing") {
		t.Errorf("stalled JSON body: %d %s", status, detail)
	}
}

func jpegOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writerLifecycle is a writer's lifecycle in the diagnostics ("" when the
// arbiter does not know it).
func writerLifecycle(c *client, tid, wid string) (string, bool) {
	diag := c.expect(200, "GET", "/runtime/diagnostics", nil)
	ts, _ := diag["runtime_state"].(map[string]any)["transmissions"].(map[string]any)[tid].(map[string]any)
	writers, _ := ts["writers"].(map[string]any)
	w, ok := writers[wid].(map[string]any)
	if !ok {
		return "", false
	}
	lc, _ := w["lifecycle_state"].(string)
	return lc, true
}

// A 20 KB PUT whose unknown member is over the budget is a 422 naming the
// limit; nothing is stored and settings.json stays small.
func TestUnknownMemberBudget(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", quickstart)["id"].(string)
	for name, value := range map[string]string{
		"20 KB":               strings.Repeat("x", 20<<10),
		"3 KB, 18 KB escaped": strings.Repeat("<", 3<<10),
		"in an output, 17 KB": "",
	} {
		body := fmt.Sprintf(`{"name":"n","path":"p","vendor":%q}`, value)
		if value == "" {
			body = fmt.Sprintf(`{"name":"n","path":"p","outputs":[{"protocol":"hls","vendor":%q}]}`, strings.Repeat("y", 17<<10))
		}
		out := c.expect(422, "PUT", "/transmissions/"+id, body)
		if !strings.Contains(fmt.Sprint(out["detail"]), "more than the 16384 allowed") {
			t.Errorf("%s: %v", name, out["detail"])
		}
		c.expect(422, "PATCH", "/settings", fmt.Sprintf(`{"transmissions":[%s]}`, body))
	}
	info, err := os.Stat(c.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > 4<<10 {
		t.Errorf("settings.json is %d bytes", info.Size())
	}
	if got := c.expect(200, "GET", "/transmissions/"+id, nil); got["vendor"] != nil || got["name"] == "n" {
		t.Errorf("a refused PUT was applied: %v", got)
	}
}

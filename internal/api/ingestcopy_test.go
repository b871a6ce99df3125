package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// recordingReader remembers every buffer it was asked to fill.
type recordingReader struct {
	r    io.Reader
	mu   sync.Mutex
	bufs [][]byte
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	rr.mu.Lock()
	rr.bufs = append(rr.bufs, p)
	rr.mu.Unlock()
	return rr.r.Read(p)
}

// readInto reports whether b lies inside a buffer that was read into.
func (rr *recordingReader) readInto(b []byte) bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for _, buf := range rr.bufs {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		if p >= lo && p < lo+uintptr(cap(buf)) {
			return true
		}
	}
	return false
}

// A raw BGR24 stream frame reaches the arbiter in the very buffer the body
// was read into: no copy between the HTTP body and the arbiter (the bytes
// bufio had buffered aside). The first frame of a size goes through pooled
// blocks (memory follows data); the later ones are read straight in.
func TestRawStreamFramesAreTheReadBuffers(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	const w, h = 1280, 720
	pr, pw := io.Pipe()
	rec := &recordingReader{r: pr}
	req := httptest.NewRequest("POST", fmt.Sprintf("%s/transmissions/%s/writers/cam/stream?width=%d&height=%d", Prefix, id, w, h), rec)
	resp := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.handler.ServeHTTP(resp, req)
	}()
	for k := byte(1); k <= 3; k++ {
		if _, err := pw.Write(streamBody(bytes.Repeat([]byte{k}, w*h*3)).Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	// Frame 3 is published once the handler has read it whole.
	testutil.Eventually(t, 5*time.Second, "frame 3 at the arbiter", func() bool {
		f := c.arbiter.Select(id).Frame
		return f != nil && f.Data[0] == 3
	})
	f := c.arbiter.Select(id).Frame
	if !rec.readInto(f.Data[len(f.Data)-1:]) {
		t.Error("frame 3's pixels are a copy of what the body was read into")
	}
	pw.Close()
	<-done
	if resp.Code != 200 {
		t.Fatalf("stream: %d %s", resp.Code, resp.Body)
	}
}

// A raw PUT allocates about one frame: the body is gathered in pooled blocks
// and copied once into the frame's buffer (it used to be read with
// io.ReadAll, growing, then copied into the frame: 3.4 frames' worth).
func TestRawPutAllocatesOneFrame(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	const w, h, n = 1280, 720, 1280 * 720 * 3
	raw := bytes.Repeat([]byte{1, 2, 3}, w*h)
	put := func() {
		req := httptest.NewRequest("PUT", fmt.Sprintf("%s/transmissions/%s/writers/cam/frame?width=%d&height=%d", Prefix, id, w, h), bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp := httptest.NewRecorder()
		c.handler.ServeHTTP(resp, req)
		if resp.Code != http.StatusAccepted {
			t.Fatalf("PUT: %d %s", resp.Code, resp.Body)
		}
	}
	put() // fill the block pool
	const rounds = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		put()
	}
	runtime.ReadMemStats(&after)
	perFrame := float64(after.TotalAlloc-before.TotalAlloc) / rounds
	t.Logf("%.0f bytes allocated per PUT of a %d-byte frame", perFrame, n)
	// One frame, plus blocks the pool lets go of (the race detector makes
	// sync.Pool drop a quarter of them): under two frames. It was 3.4.
	if perFrame > 2*n {
		t.Errorf("%.0f bytes allocated per PUT, want about one frame (%d)", perFrame, n)
	}
}

// A raw body must be exactly the frame's bytes.
func TestRawPutBodyLength(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	path := "/transmissions/" + id + "/writers/cam/frame?width=2&height=2"
	for _, tc := range []struct {
		body, detail string
	}{
		{strings.Repeat("x", 11), "the body has 11"},
		{strings.Repeat("x", 13), "the body has more"},
	} {
		status, out := c.send("PUT", path, "application/octet-stream", strings.NewReader(tc.body))
		if d := fmt.Sprint(out["detail"]); status != 400 || !strings.Contains(d, tc.detail) || !strings.Contains(d, "12 bytes") {
			t.Errorf("%d bytes: %d %v", len(tc.body), status, out)
		}
	}
	if status, out := c.send("PUT", path+"&format=yuv", "application/octet-stream", strings.NewReader("x")); status != 415 {
		t.Errorf("unknown format: %d %v", status, out)
	}
	if status, out := c.send("PUT", path, "application/octet-stream", strings.NewReader(strings.Repeat("x", 12))); status != 202 {
		t.Errorf("exact: %d %v", status, out)
	}
}

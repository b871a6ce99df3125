package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

// send issues a request with a raw body and content type.
func (c *client) send(method, path, contentType string, body io.Reader) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: not a JSON object: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func pngOf(w, h int, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func TestFrameIngest(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "PATCH", "/settings", `{"runtime":{"sticky_seconds":0}}`) // every frame re-arbitrates
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t","outputs":[{"protocol":"rtsp"}]}`)["id"].(string)
	off := c.expect(200, "POST", "/transmissions", `{"name":"off","path":"off","enabled":false}`)["id"].(string)
	frame := func(tid, writer, query string) string {
		return fmt.Sprintf("/transmissions/%s/writers/%s/frame?%s", tid, writer, query)
	}
	raw := bytes.Repeat([]byte{0, 0, 255}, 4*2)

	status, out := c.send("PUT", frame(id, "pipe:node", "width=4&height=2&priority=3&lifecycle=open"), "application/octet-stream", bytes.NewReader(raw))
	if status != 202 || out["transmission_id"] != id || out["writer_id"] != "pipe:node" || out["active_writer"] != "pipe:node" {
		t.Fatalf("raw frame: %d %v", status, out)
	}
	status, out = c.send("PUT", frame(id, "png-writer", ""), "image/png", bytes.NewReader(pngOf(8, 8, color.RGBA{0, 255, 0, 255})))
	if status != 202 || out["active_writer"] != "pipe:node" {
		t.Errorf("png frame (lower priority): %d %v", status, out)
	}
	status, out = c.send("PUT", frame(id, "gray-writer", "width=4&height=2&format=gray&priority=9"), "application/octet-stream", bytes.NewReader(make([]byte, 8)))
	if status != 202 || out["active_writer"] != "gray-writer" {
		t.Errorf("gray frame (higher priority): %d %v", status, out)
	}
	status, out = c.send("DELETE", "/transmissions/"+id+"/writers/gray-writer", "", nil)
	if status != 202 || out["active_writer"] != "pipe:node" {
		t.Errorf("close: %d %v", status, out)
	}

	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		status                  int
		detail                  string
	}{
		{"unknown transmission", frame("nope", "w", "width=4&height=2"), "application/octet-stream", raw, 404, "Transmission not found"},
		{"disabled transmission", frame(off, "w", "width=4&height=2"), "application/octet-stream", raw, 404, "disabled"},
		{"missing size", frame(id, "w", ""), "application/octet-stream", raw, 400, "width"},
		{"wrong length", frame(id, "w", "width=5&height=2"), "application/octet-stream", raw, 400, ""},
		{"bad lifecycle", frame(id, "w", "width=4&height=2&lifecycle=close"), "application/octet-stream", raw, 400, "DELETE"},
		{"bad priority", frame(id, "w", "width=4&height=2&priority=high"), "application/octet-stream", raw, 400, "priority"},
		{"unsupported type", frame(id, "w", ""), "image/webp", raw, 415, "Content-Type"},
		{"unsupported raw format", frame(id, "w", "width=4&height=2&format=yuv420p"), "application/octet-stream", raw, 415, "format"},
		{"corrupt png", frame(id, "w", ""), "image/png", []byte("not a png"), 400, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := c.send("PUT", tc.path, tc.contentType, bytes.NewReader(tc.body))
			if status != tc.status || !strings.Contains(fmt.Sprint(out["detail"]), tc.detail) {
				t.Errorf("%d %v, want %d with %q", status, out, tc.status, tc.detail)
			}
		})
	}
}

func TestFrameIngestTooLarge(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	path := "/transmissions/" + id + "/writers/w/frame"
	// Announced too large: refused before the body is read.
	req, _ := http.NewRequest("PUT", c.base+path, io.LimitReader(zeros{}, MaxFrameBytes+1))
	req.ContentLength = MaxFrameBytes + 1
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("announced: %d, want 413", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// streamBody is the streaming ingest's body: length-prefixed frames.
func streamBody(frames ...[]byte) *bytes.Buffer {
	var b bytes.Buffer
	for _, f := range frames {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(f)))
		b.Write(f)
	}
	return &b
}

func TestStreamIngest(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	raw := bytes.Repeat([]byte{255, 0, 0}, 4*2)
	path := "/transmissions/" + id + "/writers/py:gen/stream?width=4&height=2&priority=1"

	status, out := c.send("POST", path, "application/octet-stream", streamBody(raw, raw, raw))
	if status != 200 || out["frames"] != 3.0 || out["active_writer"] != nil {
		t.Errorf("stream: %d %v (the end of the body closes the writer)", status, out)
	}
	pngPath := "/transmissions/" + id + "/writers/py:png/stream?format=png"
	if status, out := c.send("POST", pngPath, "application/octet-stream", streamBody(pngOf(4, 4, color.White))); status != 200 || out["frames"] != 1.0 {
		t.Errorf("png stream: %d %v", status, out)
	}
	truncated := streamBody(raw)
	truncated.Write([]byte{0, 0, 0, 24, 1, 2})
	if status, out := c.send("POST", path, "application/octet-stream", truncated); status != 400 || !strings.Contains(fmt.Sprint(out["detail"]), "frame 2") {
		t.Errorf("truncated stream: %d %v", status, out)
	}
	huge := &bytes.Buffer{}
	_ = binary.Write(huge, binary.BigEndian, uint32(MaxFrameBytes+1))
	if status, _ := c.send("POST", path, "application/octet-stream", huge); status != 413 {
		t.Errorf("oversized frame: %d", status)
	}
	if status, _ := c.send("POST", path, "application/octet-stream", streamBody(raw[:5])); status != 400 {
		t.Errorf("short frame: %d", status)
	}
	if status, _ := c.send("POST", "/transmissions/"+id+"/writers/w/stream?format=webp", "application/octet-stream", streamBody(raw)); status != 415 {
		t.Errorf("unknown format: %d", status)
	}
}

// A busy writer keeps its slot against new writer ids: they get 429 with a
// detail that says what to do, and diagnostics count them.
func TestNewWriterAtTheCapIsRefused(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "PATCH", "/settings", `{"runtime":{"max_writers":1}}`)
	id := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[{"protocol":"rtsp"}]}`)["id"].(string)
	raw := bytes.Repeat([]byte{0, 0, 255}, 4*2)
	put := func(writer string) (int, map[string]any) {
		return c.send("PUT", fmt.Sprintf("/transmissions/%s/writers/%s/frame?width=4&height=2", id, writer), "application/octet-stream", bytes.NewReader(raw))
	}
	if status, out := put("camera"); status != 202 {
		t.Fatalf("first writer: %d %v", status, out)
	}
	status, out := put("intruder")
	if status != 429 || !strings.Contains(fmt.Sprint(out["detail"]), "runtime.max_writers") {
		t.Fatalf("second writer: %d %v", status, out)
	}
	diag := c.expect(200, "GET", "/runtime/diagnostics", nil)
	st := diag["runtime_state"].(map[string]any)["transmissions"].(map[string]any)[id].(map[string]any)
	if st["writers_refused"] != 1.0 || st["active_writer"] != "camera" {
		t.Fatalf("diagnostics %v", st)
	}
}

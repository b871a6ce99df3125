package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// procStatus reads a field of /proc/<pid>/status in kB (VmHWM: the peak
// resident set size).
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// putFrames sends body as a PNG frame from n writers at once and returns
// the answers' statuses.
func putFrames(t *testing.T, s *service, id string, n int, body []byte) []int {
	t.Helper()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/transmissions/%s/writers/w%d/frame", s.base, id, i), bytes.NewReader(body))
			req.Header.Set("Content-Type", "image/png")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode != 202 && resp.StatusCode != 413 {
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("writer %d: %d %s", i, resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	return statuses
}

// Issue 11: one 258 KB PNG of 7680x4320 16-bit RGBA pixels took the
// service from 84 MB to 548 MB and 4 s of CPU, eight at once to 4.26 GB.
// Now such frames are refused from their header, and eight of the largest
// frames the transmission takes (4x its 1920x1080 output: 3840x2160, also
// 16-bit RGBA) decoded at once keep the peak RSS growth under 400 MB.
func TestHostileFramesKeepMemoryBounded(t *testing.T) {
	s := startService(t, t.TempDir())
	status, out := s.call("POST", "/transmissions", `{"name":"Big","path":"big","outputs":[{"protocol":"rtsp","resolution":{"width":1920,"height":1080}}]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out.(map[string]any)["id"].(string)
	pid := s.cmd.Process.Pid
	before := procStatus(t, pid, "VmHWM")

	bomb := testutil.ZeroPNG(7680, 4320, 16, testutil.PNGRGBA)
	start := time.Now()
	for i, st := range putFrames(t, s, id, 8, bomb) {
		if st != 413 {
			t.Errorf("8K frame %d: %d, want 413", i, st)
		}
	}
	refused, afterRefused := time.Since(start), procStatus(t, pid, "VmHWM")
	if refused > 3*time.Second || afterRefused-before > 50<<10 {
		t.Errorf("refusing eight 8K frames took %v and %d MB of peak RSS", refused, (afterRefused-before)>>10)
	}

	largest := testutil.ZeroPNG(3840, 2160, 16, testutil.PNGRGBA)
	for i, st := range putFrames(t, s, id, 8, largest) {
		if st != 202 {
			t.Errorf("4K frame %d: %d, want 202", i, st)
		}
	}
	after := procStatus(t, pid, "VmHWM")
	t.Logf("peak RSS %d MB at start, %d MB after eight refused 8K frames (%v), %d MB after eight accepted 4K frames",
		before>>10, afterRefused>>10, refused.Round(time.Millisecond), after>>10)
	if after-before > 400<<10 {
		t.Errorf("peak RSS grew by %d MB, want under 400 MB", (after-before)>>10)
	}
}

// stalledUpload opens a connection, sends the head of a request with a
// body of length bytes and part of that body, and then nothing. The
// channel gets the answer's status (0: closed without one) and when it
// came.
func stalledUpload(t *testing.T, addr, method, path, contentType string, length int) <-chan answer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", method, path, addr, contentType, length, strings.Repeat("x", 100))
	answered := make(chan answer, 1)
	sent := time.Now()
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- answer{after: time.Since(sent)}
			return
		}
		resp.Body.Close()
		answered <- answer{resp.StatusCode, time.Since(sent)}
	}()
	return answered
}

type answer struct {
	status int
	after  time.Duration
}

// Issue 11: 300 half-sent frame uploads stayed open for good (fds 17 ->
// 317). Now one client gets 64 uploads at once (the others 429 at once),
// and a body that sends nothing for 10 s is cut: every connection is
// answered or closed within 15 s and the service's fds come back down.
func TestStalledUploadsAreCut(t *testing.T) {
	s := startService(t, t.TempDir())
	status, out := s.call("POST", "/transmissions", `{"name":"Yard","path":"yard"}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out.(map[string]any)["id"].(string)
	addr := strings.TrimPrefix(strings.TrimSuffix(s.base, "/api/streams"), "http://")
	pid := s.cmd.Process.Pid
	fdsBefore := openFDs(t, pid)

	start := time.Now()
	var answers []<-chan answer
	for i := range 100 {
		answers = append(answers, stalledUpload(t, addr, "PUT", fmt.Sprintf("/api/streams/transmissions/%s/writers/w%d/frame", id, i), "image/png", 100000))
	}
	jsonBody := stalledUpload(t, addr, "PUT", "/api/streams/transmissions/"+id, "application/json", 5000)
	counts := map[int]int{}
	for _, a := range append(answers, jsonBody) {
		select {
		case got := <-a:
			counts[got.status]++
			if got.status == 429 && got.after > 3*time.Second {
				t.Errorf("a 429 took %v", got.after)
			}
		case <-time.After(15*time.Second - time.Since(start)):
			t.Fatalf("a stalled upload still open after %v (answers so far %v)", time.Since(start), counts)
		}
	}
	t.Logf("answers %v within %v", counts, time.Since(start).Round(time.Millisecond))
	if counts[429] != 100-64 || counts[408] != 64+1 {
		t.Errorf("answers %v, want 36 uploads over the cap refused with 429 and the other 65 cut with 408", counts)
	}
	testutil.Eventually(t, 5*time.Second, "the service's fds back down", func() bool { return openFDs(t, pid) <= fdsBefore+2 })
}

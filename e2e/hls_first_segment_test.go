package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// Issue 14 item 2, measured, not asserted: time from GET index.m3u8 on an
// idle HLS output (no encoder running) to the first segment (and, for
// Low-Latency HLS, the first part) downloaded, per engine.hls_variant on
// the embedded engine, through the service (writer → our encoder → engine).
// Runs of the variants are interleaved. It takes about a minute per run
// (an HLS client lingers 10 s), so it runs only when asked:
//
//	TOPOSYNC_TEST_BENCH_HLS=3 go test -count=1 -v -run TestHLSFirstSegmentByVariant ./e2e/
func TestHLSFirstSegmentByVariant(t *testing.T) {
	runs := 0
	if _, err := fmt.Sscan(os.Getenv("TOPOSYNC_TEST_BENCH_HLS"), &runs); err != nil || runs < 1 {
		t.Skip("a measurement: set TOPOSYNC_TEST_BENCH_HLS to the number of runs")
	}
	testutil.RequireFFmpeg(t)
	s := startService(t, t.TempDir())
	p := s.enableEngine()
	if status, out := s.call("PATCH", "/settings", `{"runtime":{"stop_debounce_seconds":0.5}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	s.waitEngineRunning("engine running")
	id := s.create(`{"name":"Bench","path":"bench","outputs":[{"id":"hls","protocol":"hls","resolution":{"width":1280,"height":720},"fps_limit":30,"latency_profile":"normal"}]}`)
	s.publishPattern(id, 1280, 720, rgb{90, 120, 60})
	base := fmt.Sprintf("http://127.0.0.1:%d/bench/", p[1])
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}

	results := map[model.HLSVariant][][2]time.Duration{}
	for run := range runs {
		for _, v := range model.HLSVariants {
			if status, out := s.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"hls_variant":%q}}`, v)); status != 200 {
				t.Fatalf("patch: %d %v", status, out)
			}
			waitOutputIdle(t, s)
			seg, part := firstSegment(t, client, base, v)
			t.Logf("run %d %-10s first segment %v, first part %v", run+1, v, seg.Round(time.Millisecond), part.Round(time.Millisecond))
			results[v] = append(results[v], [2]time.Duration{seg, part})
		}
	}
	for _, v := range model.HLSVariants {
		var segs, parts []time.Duration
		for _, r := range results[v] {
			segs, parts = append(segs, r[0]), append(parts, r[1])
		}
		t.Logf("%-10s first segment min/median/max %s; first part %s", v, minMedMax(segs), minMedMax(parts))
	}
}

// waitOutputIdle waits until no encoder runs for the output (its HLS
// client stopped lingering and the debounce passed).
func waitOutputIdle(t *testing.T, s *service) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, "the output idle", func() bool {
		_, out := s.call("GET", "/runtime/outputs", "")
		for _, o := range out.(map[string]any)["outputs"].([]any) {
			if o.(map[string]any)["publisher_running"] == true {
				return false
			}
		}
		return true
	})
}

// firstSegment fetches base's index, its media playlist and the first
// segment listed (and the first part, when there are parts), as a new
// player would, returning the time from the index request to each
// download's end (0: no part).
func firstSegment(t *testing.T, c *http.Client, base string, v model.HLSVariant) (seg, part time.Duration) {
	t.Helper()
	get := func(name string) string {
		res, err := c.Get(base + name)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %q", name, res.StatusCode, b)
		}
		return string(b)
	}
	uri := func(playlist, prefix string) string {
		for _, l := range strings.Split(playlist, "\n") {
			l = strings.TrimSpace(l)
			if prefix == "" && l != "" && !strings.HasPrefix(l, "#") && !strings.Contains(l, "gap") {
				return l
			}
			if prefix != "" && strings.HasPrefix(l, prefix) {
				_, after, _ := strings.Cut(l, `URI="`)
				u, _, _ := strings.Cut(after, `"`)
				return u
			}
		}
		return ""
	}
	start := time.Now()
	media := get(uri(get("index.m3u8"), ""))
	if init := uri(media, "#EXT-X-MAP:"); init != "" {
		get(init)
	}
	if v == model.HLSLowLatency {
		if p := uri(media, "#EXT-X-PART:"); p != "" {
			get(p)
			part = time.Since(start)
		}
	}
	s := uri(media, "")
	if s == "" {
		t.Fatalf("no segment listed:\n%s", media)
	}
	get(s)
	return time.Since(start), part
}

func minMedMax(d []time.Duration) string {
	if len(d) == 0 || d[0] == 0 {
		return "-"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	r := func(x time.Duration) time.Duration { return x.Round(10 * time.Millisecond) }
	return fmt.Sprintf("%v / %v / %v", r(d[0]), r(d[len(d)/2]), r(d[len(d)-1]))
}

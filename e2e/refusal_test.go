package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// A viewer of a path that cannot start (the service has no ffmpeg to
// encode with) is refused well before the 10 s hold, with the reason in
// the engine's log and in the runtime answers, on both engines; a later
// viewer is held and refused again the same way.
func TestUnstartablePathRefusesViewersQuickly(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t) // for the readers: the service gets none
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) {
			s := startService(t, t.TempDir(), append(env, "TOPOSYNC_STREAMING_FFMPEG_PATH=/nonexistent/ffmpeg")...)
			p := enginePorts(t, testutil.FreePorts(t, 4))
			st := s.runEngine(kind, p)
			hls := int(st["ports"].(map[string]any)["hls"].(float64))
			if status, out := s.call("POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[
				{"id":"rtsp","protocol":"rtsp"},{"id":"hls","protocol":"hls"}]}`); status != 200 {
				t.Fatalf("create: %d %v", status, out)
			}
			const quick = 4 * time.Second // the hold is 10 s
			for attempt := range 2 {
				start := time.Now()
				got := probe(t, fmt.Sprintf("rtsp://127.0.0.1:%d/yard-rtsp", p[0]), "-rtsp_transport", "tcp")
				if took := time.Since(start); !strings.HasPrefix(got, "error") || took > quick {
					t.Fatalf("RTSP read %d: %q after %v, want a refusal within %v", attempt, got, took, quick)
				}
			}
			start := time.Now()
			res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/yard-hls/index.m3u8", hls))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if took := time.Since(start); res.StatusCode == http.StatusOK || took > quick {
				t.Fatalf("HLS playlist: %d %q after %v, want a refusal within %v", res.StatusCode, body, took, quick)
			}
			if kind == "embedded" && (res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "ffmpeg")) {
				t.Errorf("HLS refusal %d %q, want 503 naming ffmpeg", res.StatusCode, body)
			}

			// The embedded engine logs into the service's log, MediaMTX into files.
			engineLog := func() string {
				if kind == "embedded" {
					return s.log.String()
				}
				logs, _ := filepath.Glob(filepath.Join(s.dataDir, "runtime", "streaming", "logs", "mediamtx-*.log"))
				all := ""
				for _, name := range logs {
					b, _ := os.ReadFile(name)
					all += string(b)
				}
				return all
			}
			why := map[string]string{"embedded": "held readers refused", "mediamtx": "cannot publish path yard-rtsp"}[kind]
			testutil.Eventually(t, 5*time.Second, "the reason in the engine log", func() bool {
				log := engineLog()
				return strings.Contains(log, why) && strings.Contains(log, "/nonexistent/ffmpeg")
			})
			_, outs := s.call("GET", "/runtime/outputs", "")
			found := false
			for _, o := range outs.(map[string]any)["outputs"].([]any) {
				o := o.(map[string]any)
				if o["resolved_engine_path"] == "yard-rtsp" {
					found = true
					if msg, _ := o["publisher_last_error"].(string); !strings.Contains(msg, "ffmpeg") {
						t.Errorf("runtime output %v: publisher_last_error does not say why", o)
					}
				}
			}
			if !found {
				t.Errorf("runtime outputs %v lack yard-rtsp", outs)
			}
			_, diag := s.call("GET", "/runtime/diagnostics", "")
			if pubs := fmt.Sprint(diag.(map[string]any)["publisher"].(map[string]any)["outputs"]); !strings.Contains(pubs, "yard-rtsp") || !strings.Contains(pubs, "/nonexistent/ffmpeg") {
				t.Errorf("diagnostics publishers %s do not say why yard-rtsp cannot start", pubs)
			}
		})
	}
}

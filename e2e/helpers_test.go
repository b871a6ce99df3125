// Package e2e runs the real toposync-streaming binary the way a user does:
// built with go build, started as a process, spoken to over HTTP, stopped
// with signals.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// binary is the toposync-streaming binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "toposync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "toposync-streaming")
	build := exec.Command("go", "build", "-o", binary, "../cmd/toposync-streaming")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// service is one running toposync-streaming process.
type service struct {
	t       *testing.T
	dataDir string
	cmd     *exec.Cmd
	base    string       // http(s)://127.0.0.1:PORT/api/streams
	http    *http.Client // what call and waitHealthy use
	log     *testutil.SyncBuffer
	done    chan error
	// authorization is the Authorization header its API credentials (from
	// the environment it was started with) call for, or "".
	authorization string
}

var listenLine = regexp.MustCompile(`msg=listening addr=(https?://\S+)`)

// startService runs `toposync-streaming serve` on a free port with dataDir
// and waits until it answers /health.
func startService(t *testing.T, dataDir string, env ...string) *service {
	t.Helper()
	return startServiceArgs(t, dataDir, nil, env...)
}

// startServiceArgs is startService with more arguments to serve (a later
// --listen wins over the default one).
func startServiceArgs(t *testing.T, dataDir string, args []string, env ...string) *service {
	t.Helper()
	return launch(t, dataDir, http.DefaultClient, args, env)
}

// startTLSService is startService with TLS on (cert's files in the
// environment); the service's client trusts cert alone.
func startTLSService(t *testing.T, dataDir string, cert testutil.TestCert, env ...string) *service {
	t.Helper()
	env = append(env, config.EnvTLSCertFile+"="+cert.CertFile, config.EnvTLSKeyFile+"="+cert.KeyFile)
	return launch(t, dataDir, &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}, nil, env)
}

func launch(t *testing.T, dataDir string, client *http.Client, args, env []string) *service {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	s := &service{t: t, dataDir: dataDir, cmd: cmd, http: client, log: &testutil.SyncBuffer{}, done: make(chan error, 1), authorization: apiAuthorization(env)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			fmt.Fprintln(s.log, lines.Text())
			if m := listenLine.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // stopped cleanly, so it stops what it started
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.log.String())
			logs, _ := filepath.Glob(filepath.Join(dataDir, "runtime", "streaming", "logs", "mediamtx-*.log"))
			for _, name := range logs {
				if b, err := os.ReadFile(name); err == nil {
					t.Logf("%s:\n%s", filepath.Base(name), tail(b, 64<<10))
				}
			}
		}
	})
	select {
	case s.base = <-addr:
	case err := <-s.done:
		t.Fatalf("service exited before listening (%v):\n%s", err, s.log.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("service did not listen within 20s:\n%s", s.log.String())
	}
	s.waitHealthy()
	return s
}

// apiAuthorization is the Authorization header for the API credentials in
// env: the token when set, else Basic.
func apiAuthorization(env []string) string {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if tok := vars["TOPOSYNC_STREAMING_API_TOKEN"]; tok != "" {
		return "Bearer " + tok
	}
	if user, pass := vars["TOPOSYNC_STREAMING_API_USERNAME"], vars["TOPOSYNC_STREAMING_API_PASSWORD"]; user != "" {
		req := http.Request{Header: http.Header{}}
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	return ""
}

func (s *service) waitHealthy() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", s.base+"/health", nil)
		if s.authorization != "" {
			req.Header.Set("Authorization", s.authorization)
		}
		resp, err := s.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("service not healthy within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends a JSON request and decodes the JSON answer.
func (s *service) call(method, path, body string) (int, any) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.authorization != "" {
		req.Header.Set("Authorization", s.authorization)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

// stop sends sig and waits for the process to exit, returning its exit code.
func (s *service) stop(sig syscall.Signal) int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.t.Fatalf("service did not exit within 15s of %v", sig)
	}
	return s.cmd.ProcessState.ExitCode()
}

// mediaDir is the service's camera files directory (the default,
// <data dir>/media, which the service creates): cameras may read local
// files only from there.
func (s *service) mediaDir() string { return filepath.Join(s.dataDir, "media") }

// enableEngine enables the service's engine on free preferred ports and
// returns them (rtsp, hls, webrtc, api, rtp).
func (s *service) enableEngine() []int {
	s.t.Helper()
	p := enginePorts(s.t, testutil.FreePorts(s.t, 4))
	if status, out := s.call("PATCH", "/settings", `{"engine":{"enabled":true,"preferred_ports":`+portsJSON(p)+`}}`); status != 200 {
		s.t.Fatalf("patch: %d %v", status, out)
	}
	return p
}

// enginePorts are the preferred ports p (rtsp, hls, webrtc, api[, rtp])
// with a free RTP/RTCP pair added when p has none: the default pair may be
// held by another test's engine, and a remap would add a warning.
func enginePorts(t testing.TB, p []int) []int {
	if len(p) == 4 {
		return append(slices.Clone(p), testutil.FreeRTPPort(t))
	}
	return p
}

// portsJSON is preferred_ports for p (rtsp, hls, webrtc, api, rtp).
func portsJSON(p []int) string {
	return fmt.Sprintf(`{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d,"rtp":%d}`, p[0], p[1], p[2], p[3], p[4])
}

// runEngine switches the service's engine to kind on the preferred ports
// p (rtsp, hls, webrtc, api[, rtp]: see enginePorts), enables it and waits
// until it runs (up to 60 s: MediaMTX is installed first); it returns the
// engine status.
func (s *service) runEngine(kind string, p []int) map[string]any {
	s.t.Helper()
	if status, out := s.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"kind":%q,"enabled":true,"preferred_ports":%s}}`, kind, portsJSON(enginePorts(s.t, p)))); status != 200 {
		s.t.Fatalf("patch: %d %v", status, out)
	}
	var st map[string]any
	testutil.Eventually(s.t, 60*time.Second, kind+" engine running", func() bool {
		_, out := s.call("GET", "/engine/status", "")
		st = out.(map[string]any)
		return st["running"] == true && st["kind"] == kind
	})
	return st
}

// waitEngineRunning waits up to 10 s for the service to report its engine
// running; what names the wait in the failure.
func (s *service) waitEngineRunning(what string) {
	s.t.Helper()
	testutil.Eventually(s.t, 10*time.Second, what, func() bool {
		_, out := s.call("GET", "/engine/status", "")
		return out.(map[string]any)["running"] == true
	})
}

// tail is the last n bytes of b, for logs in failure messages.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// With a certificate and key in the environment the API and UI answer
// HTTPS only, the engine serves RTSPS on its RTSP port and HTTPS for HLS
// and WHEP, the URLs say so, and every protocol plays, on both kinds.
func TestTLS(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { servesTLS(t, kind, env) })
	}
}

func servesTLS(t *testing.T, kind string, env []string) {
	cert := testutil.SelfSignedCert(t)
	s := startTLSService(t, t.TempDir(), cert, env...)
	api, err := url.Parse(s.base)
	if err != nil || api.Scheme != "https" {
		t.Fatalf("the service listens on %s, want https://", s.base)
	}
	// Plain HTTP to the API's port gets no API answer.
	if resp, err := http.Get("http://" + api.Host + "/api/streams/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS API: %d, want 400", resp.StatusCode)
		}
	}
	if code, _ := s.call("GET", "/health", ""); code != 200 {
		t.Fatalf("health over HTTPS: %d", code)
	}

	st := s.runEngine(kind, testutil.FreePorts(t, 4))
	urls := st["urls"].(map[string]any)
	if st["tls"] != true || !strings.HasPrefix(urls["rtsp_url"].(string), "rtsps://") ||
		!strings.HasPrefix(urls["hls_url"].(string), "https://") || !strings.HasPrefix(urls["webrtc_url"].(string), "https://") {
		t.Fatalf("engine status: tls %v, urls %v", st["tls"], urls)
	}
	const out = `{"id":%q,"protocol":%q,"resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"}`
	body := `{"name":"Secure","path":"secure","outputs":[` + fmt.Sprintf(out, "rtsp", "rtsp") + "," + fmt.Sprintf(out, "hls", "hls") + "," + fmt.Sprintf(out, "webrtc", "webrtc") + `]}`
	code, created := s.call("POST", "/transmissions", body)
	if code != 200 {
		t.Fatalf("create: %d %v", code, created)
	}
	_, resolved := s.call("GET", "/transmissions/"+created.(map[string]any)["id"].(string)+"/urls", "")
	play := map[string]string{}
	for _, o := range resolved.(map[string]any)["outputs"].([]any) {
		o := o.(map[string]any)
		play[o["protocol"].(string)] = o["url"].(string)
	}
	for protocol, scheme := range map[string]string{"rtsp": "rtsps://", "hls": "https://", "webrtc": "https://"} {
		if !strings.HasPrefix(play[protocol], scheme) {
			t.Fatalf("%s URL %q, want %s", protocol, play[protocol], scheme)
		}
	}

	// RTSPS: our publishers (the test pattern, an output's) push over
	// RTSPS on loopback; readers get every packet (a first read, held until
	// the publisher runs, and one joining the running stream).
	for _, u := range []string{urls["rtsp_url"].(string), play["rtsp"], play["rtsp"]} {
		if err := decodesCleanly(u); err != nil {
			t.Errorf("RTSPS %s: %v", u, err)
		}
	}
	if got := probe(t, play["rtsp"], "-rtsp_transport", "tcp"); got != "h264 320x240" {
		t.Errorf("RTSPS: %s", got)
	}
	if got := probe(t, strings.Replace(play["rtsp"], "rtsps://", "rtsp://", 1), "-rtsp_transport", "tcp"); !strings.HasPrefix(got, "error") {
		t.Errorf("plain RTSP on the RTSPS port played: %s", got)
	}
	// HLS over HTTPS: the certificate verifies, ffprobe plays.
	secure := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}, Timeout: 20 * time.Second}
	if resp, err := secure.Get(play["hls"]); err != nil {
		t.Errorf("HLS over verified HTTPS: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("HLS over verified HTTPS: %d", resp.StatusCode)
	}
	if got := probe(t, play["hls"]); got != "h264 320x240" {
		t.Errorf("HLS over HTTPS: %s", got)
	}
	// WHEP over verified HTTPS.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := whep.Dialer{HTTPClient: secure}
	sess, err := d.Dial(ctx, play["webrtc"], "", "")
	if err != nil {
		t.Fatalf("WHEP over HTTPS: %v", err)
	}
	defer sess.Close()
	select {
	case <-sess.FirstIDR():
	case <-ctx.Done():
		t.Errorf("no keyframe over WHEP/HTTPS (stats %+v)", sess.Stats())
	}
}

// decodesCleanly decodes 3 s of an RTSP(S) URL over TCP with ffmpeg, which
// must report no error at all (a lost packet is a decoding error).
func decodesCleanly(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "3", "-f", "null", "-").CombinedOutput()
	if err != nil || len(out) > 0 {
		first, _, _ := strings.Cut(string(out), "\n")
		return fmt.Errorf("ffmpeg %v: %d bytes of errors, first %q", err, len(out), first)
	}
	return nil
}

// A half or broken TLS configuration stops serve before it listens, with
// a message naming what to fix.
func TestTLSMisconfigurationRefusesToStart(t *testing.T) {
	cert, other := testutil.SelfSignedCert(t), testutil.SelfSignedCert(t)
	for name, c := range map[string]struct {
		env  []string
		says []string
	}{
		"certificate alone": {[]string{config.EnvTLSCertFile + "=" + cert.CertFile}, []string{config.EnvTLSCertFile + " is set but " + config.EnvTLSKeyFile + " is not"}},
		"another key":       {[]string{config.EnvTLSCertFile + "=" + cert.CertFile, config.EnvTLSKeyFile + "=" + other.KeyFile}, []string{other.KeyFile, "does not match"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || strings.Contains(string(out), "msg=listening") {
			t.Errorf("%s: serve did not refuse (%v):\n%s", name, err, out)
			continue
		}
		for _, w := range c.says {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: output does not say %q:\n%s", name, w, out)
			}
		}
	}
}

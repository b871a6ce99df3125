package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// chromiumPath is Debian's Chromium; `make test` installs it (scripts/deps.sh).
const chromiumPath = "/usr/bin/chromium"

// artifactsDir receives screenshots (gitignored).
const artifactsDir = "../test-artifacts"

func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not installed (make test installs it): %v", chromiumPath, err)
	}
}

// browser is one headless Chromium with one tab.
type browser struct {
	t       *testing.T
	ctx     context.Context
	console *testutil.SyncBuffer
}

// blockWebRTCPrefs is a Chromium profile whose WebRTC IP handling policy is
// "disable_non_proxied_udp", the setting corporate policies and privacy
// extensions use: without a proxy, WebRTC gets no ICE candidates at all.
// (Chromium 156 ignores the --force-webrtc-ip-handling-policy switch.)
const blockWebRTCPrefs = `{"webrtc":{"ip_handling_policy":"disable_non_proxied_udp"}}`

// newBrowser starts headless Chromium as the CI runs it (as root, so no
// sandbox), with WebRTC allowed on loopback, on a fresh profile holding
// prefs (JSON of the profile's Preferences file) when not empty, and with
// the extra command-line flags.
func newBrowser(t *testing.T, prefs string, flags ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	requireChromium(t)
	profile := t.TempDir()
	if prefs != "" {
		if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(prefs), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
	)
	opts = append(opts, flags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, console: &testutil.SyncBuffer{}}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(f string, a ...any) {
		fmt.Fprintf(b.console, "chromedp: "+f+"\n", a...)
	}))
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browser console:\n%s", b.console.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser on the long-lived context
		t.Fatalf("start chromium: %v", err)
	}
	logCtx, stopLog := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range chromedp.Console(logCtx) {
			if err != nil {
				return
			}
			fmt.Fprintf(b.console, "%s %s: %s\n", time.Now().Format("15:04:05.000"), m.Type, m.String())
		}
	})
	t.Cleanup(func() { stopLog(); wg.Wait() })
	return b
}

// do runs steps with a deadline.
func (b *browser) do(within time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// evalJS evaluates expr in the page and decodes its JSON value into T.
func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls the boolean expression expr until it is true, failing after
// within with what and the last value of the diagnostic expression diag.
func (b *browser) waitJS(within time.Duration, what, expr, diag string) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state := ""
			if diag != "" {
				state = evalJS[string](b, diag)
			}
			b.screenshot(fmt.Sprintf("failed-%s.png", strings.ReplaceAll(b.t.Name(), "/", "-")))
			b.t.Fatalf("timed out after %v waiting for %s (err %v); state: %s", within, what, err, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setInput types value into the input matched by sel as a user would:
// clears it, then sends the keys.
func (b *browser) setInput(sel, value string) {
	b.t.Helper()
	b.do(10*time.Second,
		jsDo(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

// jsDo is an action that evaluates expr (which must give a boolean).
func jsDo(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](expr)(ctx, t)
		return chromedp.Void{}, err
	}
}

// screenshot saves the viewport as artifactsDir/name.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	b.t.Logf("screenshot: %s", abs)
}

// uiService is a running service with the engine enabled on free ports.
func uiService(t *testing.T) *service {
	t.Helper()
	testutil.RequireFFmpeg(t)
	s := startService(t, t.TempDir())
	s.enableEngine()
	s.waitEngineRunning("engine running")
	return s
}

// uiRoot is the UI's address: the API base without /api/streams.
func (s *service) uiRoot() string { return strings.TrimSuffix(s.base, "/api/streams") }

// create makes a transmission and returns its id.
func (s *service) create(body string) string {
	s.t.Helper()
	status, out := s.call("POST", "/transmissions", body)
	if status != 200 {
		s.t.Fatalf("create: %d %v", status, out)
	}
	return out.(map[string]any)["id"].(string)
}

// publishPattern publishes w x h frames of colour c with a moving white bar
// into transmission id every 100 ms until the test ends: a live writer.
func (s *service) publishPattern(id string, w, h int, c rgb) {
	s.publishPatternAs(id, "test:pattern", 0, w, h, c)
}

// publishPatternAs is publishPattern as writer at priority.
func (s *service) publishPatternAs(id, writer string, priority, w, h int, c rgb) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Transport: s.http.Transport, Timeout: 5 * time.Second}
	wg.Go(func() {
		base := bgrFrame(w, h, c)
		for n := 0; ctx.Err() == nil; n++ {
			frame := bytes.Clone(base)
			x0 := (n * 6) % w
			for y := range h {
				for x := x0; x < x0+12 && x < w; x++ {
					i := (y*w + x) * 3
					frame[i], frame[i+1], frame[i+2] = 255, 255, 255
				}
			}
			url := fmt.Sprintf("%s/transmissions/%s/writers/%s/frame?width=%d&height=%d&priority=%d", s.base, id, writer, w, h, priority)
			req, _ := http.NewRequestWithContext(ctx, "PUT", url, bytes.NewReader(frame))
			req.Header.Set("Content-Type", "application/octet-stream")
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

// callRoot is call for paths outside /api/streams, such as /api/cameras.
func (s *service) callRoot(method, path, body string) (int, any) {
	s.t.Helper()
	c := *s
	c.base = s.uiRoot()
	return c.call(method, path, body)
}

// setSelect picks value in the <select> matched by sel and fires its change
// event, as choosing an option does.
func (b *browser) setSelect(sel, value string) {
	b.t.Helper()
	ok := evalJS[bool](b, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el || ![...el.options].some(o => o.value === %q)) return false;
		el.value = %q;
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, sel, value, value))
	if !ok {
		b.t.Fatalf("select %s: no option %q", sel, value)
	}
}

// value is the value of the form control matched by sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`document.querySelector(%q)?.value ?? "<missing>"`, sel))
}

// saveExpectingFieldError saves the transmission form and waits until the
// field named field (its data-field, the server's loc) shows an error
// containing text.
func (b *browser) saveExpectingFieldError(field, text string) {
	b.t.Helper()
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, fmt.Sprintf("%q at %s", text, field),
		fmt.Sprintf(`document.querySelector('[data-field=%q].invalid .field-error')?.textContent.includes(%q)`, field, text),
		`document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
}

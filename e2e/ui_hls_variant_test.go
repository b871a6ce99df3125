package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// Issue 14 item 2: engine.hls_variant is chosen in the Settings engine
// form, and with lowLatency a dashboard tile playing HLS uses hls.js's
// low-latency mode: it plays and loads parts (hls.js loads only whole
// segments outside that mode, although it asks for blocking reloads in
// both).
func TestUIHLSTileLowLatency(t *testing.T) {
	s := uiService(t)
	id := s.create(fmt.Sprintf(uiOutputs, "Quay", "quay", uiHLS))
	s.publishPattern(id, 320, 240, rgb{40, 90, 160})
	b := newBrowser(t, "")

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"), chromedp.WaitVisible(chromedp.CSS("[data-testid=engine-hls-variant]")))
	if got := b.value("[data-testid=engine-hls-variant]"); got != "mpegts" {
		t.Errorf("HLS variant choice %q, want mpegts", got)
	}
	b.setSelect("[data-testid=engine-hls-variant]", "lowLatency")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=engine-form] button[type=submit]`)))
	testutil.Eventually(t, 10*time.Second, "the HLS variant saved", func() bool {
		_, out := s.call("GET", "/settings", "")
		return jget(out, "engine", "hls_variant") == "lowLatency"
	})

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	b.waitPlaying(id, "HLS", 60*time.Second)
	parts := `performance.getEntriesByType("resource").map(e => e.name).filter(n => n.includes("/quay/") && /_part[0-9]+\.mp4/.test(n))`
	b.waitJS(10*time.Second, "parts loaded", parts+`.length > 0`,
		`JSON.stringify(performance.getEntriesByType("resource").map(e => e.name).filter(n => n.includes("/quay/")).slice(-10))`)
	b.screenshot("hls-low-latency-tile")
}

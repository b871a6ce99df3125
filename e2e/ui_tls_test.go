package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// Served over HTTPS, the UI plays what the API's https:// URLs point at
// (WHEP, and HLS when WebRTC is blocked) with no mixed content, and the
// engine panel says the engine is encrypted. Chromium trusts the test
// certificate alone (by its key), as a browser trusting its CA would.
func TestUIOverTLS(t *testing.T) {
	requireChromium(t)
	testutil.RequireFFmpeg(t)
	cert := testutil.SelfSignedCert(t)
	s := startTLSService(t, t.TempDir(), cert)
	s.enableEngine()
	s.waitEngineRunning("engine running")
	id := s.create(fmt.Sprintf(uiOutputs, "Secure", "secure", uiRTC+","+uiHLS))
	s.publishPattern(id, 320, 240, rgb{30, 90, 160})
	trust := chromedp.Flag("ignore-certificate-errors-spki-list", cert.SPKI)

	b := newBrowser(t, "", trust)
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	b.waitPlaying(id, "WebRTC", 40*time.Second)

	blocked := newBrowser(t, blockWebRTCPrefs, trust)
	blocked.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	blocked.waitPlaying(id, "HLS", 60*time.Second)

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(15*time.Second, "the engine panel saying TLS and RTSPS",
		`document.querySelector("[data-testid=engine-tls]")?.textContent === "TLS (RTSPS, HTTPS)" && document.querySelector("[data-testid=engine-ports]").innerText.includes("RTSPS")`,
		`document.querySelector("[data-testid=engine-ports]")?.innerText ?? "none"`)
}

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Issue 13 item 5: as on MediaMTX, a browser opening a path on the embedded
// engine's WebRTC port (/<path>/, or the WHEP endpoint itself) gets a
// player that plays it, and /<path>/ on the HLS port a page; both behind
// the path's read login.
func TestUIEnginePlayerPages(t *testing.T) {
	s := uiService(t)
	login := `,"authentication":{"enabled":true,"username":"viewer","password":"s3cret"}}`
	id := s.create(fmt.Sprintf(uiOutputs, "Gate", "gate", strings.TrimSuffix(uiRTC, "}")+login+","+strings.TrimSuffix(uiHLS, "}")+login))
	s.publishPattern(id, 320, 240, rgb{40, 130, 70})
	// Two outputs: each has its own path (gate-rtc, gate-hls).
	_, out := s.call("GET", "/transmissions/"+id+"/urls", "")
	urls := map[string]string{}
	for _, o := range out.(map[string]any)["outputs"].([]any) {
		o := o.(map[string]any)
		urls[o["protocol"].(string)] = o["url"].(string)
	}
	whepURL := urls["webrtc"]                                // http://host:port/gate-rtc/whep
	hlsPage := strings.TrimSuffix(urls["hls"], "index.m3u8") // http://host:port/gate-hls/
	webrtcPage := strings.TrimSuffix(whepURL, "whep")
	for _, u := range []string{webrtcPage, whepURL, hlsPage, strings.TrimSuffix(hlsPage, "/")} {
		for _, auth := range []bool{false, true} {
			req, _ := http.NewRequest("GET", u, nil)
			if auth {
				req.SetBasicAuth("viewer", "s3cret")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if want := map[bool]int{false: 401, true: 200}[auth]; res.StatusCode != want || (auth && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html")) {
				t.Errorf("GET %s (login %v): %d %q, want %d and a page", u, auth, res.StatusCode, res.Header.Get("Content-Type"), want)
			}
		}
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(strings.Replace(whepURL, "http://", "http://viewer:s3cret@", 1)))
	video := `(() => { const v = document.querySelector("video"); return {w: v.videoWidth, t: v.currentTime} })()`
	b.waitJS(40*time.Second, "the WebRTC player playing", `(() => { const v = document.querySelector("video"); return v.videoWidth === 320 && v.currentTime > 1 })()`,
		`JSON.stringify([`+video+`, document.getElementById("msg").textContent])`)
	b.screenshot("engine-webrtc-player.png")

	b.do(20*time.Second, chromedp.Navigate(strings.Replace(hlsPage, "http://", "http://viewer:s3cret@", 1)))
	b.waitJS(20*time.Second, "the HLS page playing or saying where to watch",
		`(() => { const v = document.querySelector("video"); return v.currentTime > 1 || document.getElementById("msg").textContent.includes("WebRTC port") })()`,
		`document.body.innerText`)
}

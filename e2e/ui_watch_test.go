package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Issue 13 item 5: /watch/{id or path} plays one stream full window with
// the dashboard's player (WHEP with the output's login here), reached from
// the dashboard's tile and from Settings; an unknown stream says so.
func TestUIWatchPage(t *testing.T) {
	s := uiService(t)
	login := `,"authentication":{"enabled":true,"username":"viewer","password":"s3cret"}}`
	id := s.create(fmt.Sprintf(uiOutputs, "Loading bay", "bay-north", strings.TrimSuffix(uiRTC, "}")+login))
	s.publishPattern(id, 320, 240, rgb{30, 90, 160})

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/watch/bay-north")) // by path
	st := b.waitPlaying(id, "WebRTC", 40*time.Second)
	if st.Width != 320 || st.Height != 240 {
		t.Errorf("playing %dx%d, want 320x240", st.Width, st.Height)
	}
	// Full window: the tile takes the page below the nav bar.
	if !evalJS[bool](b, `(() => { const r = document.querySelector("[data-testid=tile]").getBoundingClientRect(); return r.width > innerWidth * 0.9 && r.height > innerHeight * 0.7 })()`) {
		t.Errorf("the player is not full window: %s", evalJS[string](b, `JSON.stringify(document.querySelector("[data-testid=tile]").getBoundingClientRect())`))
	}
	if title := evalJS[string](b, `document.querySelector("[data-testid=watch] h1").textContent`); title != "Loading bay" {
		t.Errorf("title %q", title)
	}
	b.screenshot("watch.png")

	// The dashboard's tile and Settings link to it by id.
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	b.waitJS(20*time.Second, "the tile's player link", fmt.Sprintf(`document.querySelector('[data-testid=tile][data-id=%q] [data-testid=tile-watch]')?.getAttribute("href") === "/watch/%s"`, id, id), "")
	b.do(10*time.Second, jsDo(fmt.Sprintf(`(document.querySelector('[data-testid=tile][data-id=%q] [data-testid=tile-watch]').click(), true)`, id)))
	b.waitJS(10*time.Second, "the player opened from the dashboard", `location.pathname.startsWith("/watch/") && !!document.querySelector("[data-testid=watch] [data-testid=tile]")`, `location.pathname`)
	b.waitPlaying(id, "WebRTC", 40*time.Second)
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(20*time.Second, "Settings' Watch link", fmt.Sprintf(`[...document.querySelectorAll("[data-testid=tx-watch]")].some(a => a.getAttribute("href") === "/watch/%s")`, id), "")

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/watch/no-such-stream"))
	b.waitJS(20*time.Second, "the unknown stream explained", `document.querySelector("[data-testid=watch-missing]")?.innerText.includes("no-such-stream") ?? false`,
		`document.querySelector("[data-testid=watch]")?.innerText ?? "none"`)
}

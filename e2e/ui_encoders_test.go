package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Issue 12: Settings shows what encoder really runs for each output
// (codec, hardware or CPU, which outputs share one) and the fallback
// warning when the encoder asked for cannot be used (no GPU here).
func TestUIEncodersCard(t *testing.T) {
	s := uiService(t)
	if status, out := s.call("PATCH", "/settings", `{"engine":{"h264_encoder":"h264_nvenc"}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	id := s.create(`{"name":"Quay","path":"quay","outputs":[
		{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"hls","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"small","protocol":"webrtc","resolution":{"width":160,"height":120},"fps_limit":10}]}`)
	idle := s.create(`{"name":"Idle","path":"idle","outputs":[{"id":"main","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	if status, out := s.call("POST", "/transmissions/"+id+"/demand/prime", ""); status != 200 {
		t.Fatalf("prime: %d %v", status, out)
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	row := func(key string) string {
		return fmt.Sprintf(`(document.querySelector('[data-testid=encoder-row][data-output=%q]')?.innerText ?? "")`, key)
	}
	card := `document.querySelector("[data-testid=encoders-card]")?.innerText ?? "no card"`
	b.waitJS(40*time.Second, "the encoders card with what runs", fmt.Sprintf(`(() => {
		const rtsp = %s, hls = %s, small = %s, idle = %s;
		const warn = document.querySelector("[data-testid=encoder-warning]")?.innerText ?? "";
		return rtsp.includes("libx264") && rtsp.includes("CPU") && rtsp.includes("one encoder with hls") &&
			hls.includes("libx264") && hls.includes("one encoder with rtsp") &&
			small.includes("libx264") && !small.includes("one encoder with") &&
			idle.includes("not encoding") &&
			warn.includes("h264_nvenc") && warn.includes("using libx264") &&
			document.querySelector("[data-testid=encoders-count]")?.textContent === "2 running";
	})()`, row(id+":rtsp"), row(id+":hls"), row(id+":small"), row(idle+":main")), card)
	b.do(5*time.Second, jsDo(`(document.querySelector("[data-testid=encoders-card]").scrollIntoView(), true)`))
	b.screenshot("settings-encoders.png")
}

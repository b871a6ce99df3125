package e2e

// Browser test of the engine card's MediaMTX controls: switching the engine
// kind, the version field's check, installing MediaMTX from the card with
// its progress, and starting it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// engineCardText is the engine card's text, for failure messages.
const engineCardText = `document.querySelector("[data-testid=engine-card]")?.innerText ?? "no engine card"`

func TestUIEngineMediaMTX(t *testing.T) {
	requireChromium(t)
	testutil.RequireFFmpeg(t)
	mirror := testutil.MediaMTXMirror(t)
	archive, err := os.Stat(filepath.Join(mirror, testutil.MediaMTXMirrorVersion, "mediamtx_"+testutil.MediaMTXMirrorVersion+"_linux_amd64.tar.gz"))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://"+mirror)
	p := enginePorts(t, testutil.FreePorts(t, 4))
	if status, out := s.call("PATCH", "/settings", `{"engine":{"preferred_ports":`+portsJSON(p)+`}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "the embedded engine shown, without the MediaMTX rows",
		`document.querySelector("[data-testid=engine-kind]")?.value === "embedded" && document.querySelector("[data-testid=engine-kind-label]")?.textContent === "embedded" && !!document.querySelector("[data-testid=engine-mediamtx]")?.hidden && !!document.querySelector("[data-testid=engine-version]").closest("[hidden]")`,
		engineCardText)

	// MediaMTX with a version that is not a release tag: refused next to the
	// field, nothing stored.
	b.setSelect("[data-testid=engine-kind]", "mediamtx")
	b.waitJS(5*time.Second, "the version field shown", `!document.querySelector("[data-testid=engine-version]").closest("[hidden]")`, engineCardText)
	if got := b.value("[data-testid=engine-version]"); got != testutil.MediaMTXMirrorVersion {
		t.Errorf("version field %q, want the default %s", got, testutil.MediaMTXMirrorVersion)
	}
	b.setInput("[data-testid=engine-version]", "1.20")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-kind-save]")))
	b.waitJS(5*time.Second, "the version error next to the version field",
		`document.querySelector('[data-field="engine.mediamtx_version"].invalid .field-error')?.textContent.includes("release tag")`, engineCardText)
	if _, out := s.call("GET", "/settings", ""); jget(out, "engine", "kind") != "embedded" {
		t.Fatalf("a refused save changed the kind: %v", jget(out, "engine"))
	}

	// A valid version saves: the card shows MediaMTX, not installed yet.
	b.setInput("[data-testid=engine-version]", testutil.MediaMTXMirrorVersion)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-kind-save]")))
	b.waitJS(10*time.Second, "the MediaMTX rows shown, not installed",
		`!document.querySelector("[data-testid=engine-mediamtx]").hidden && document.querySelector("[data-testid=engine-kind-label]").textContent === "MediaMTX `+testutil.MediaMTXMirrorVersion+`" && document.querySelector("[data-testid=engine-binary-path]").textContent === "not installed" && !document.querySelector(".field.invalid")`,
		engineCardText)
	if _, out := s.call("GET", "/settings", ""); jget(out, "engine", "kind") != "mediamtx" || jget(out, "engine", "mediamtx_version") != testutil.MediaMTXMirrorVersion || jget(out, "engine", "enabled") != false {
		t.Fatalf("stored engine settings %v", jget(out, "engine"))
	}
	if evalJS[bool](b, `!document.querySelector("[data-testid=engine-reclaim]").hidden`) {
		t.Error("Reclaim shown without stray processes")
	}

	// Download: the binary path and the full size show when it is done.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-download]")))
	size := strconv.FormatInt(archive.Size(), 10)
	b.waitJS(60*time.Second, "MediaMTX installed with its full size shown",
		fmt.Sprintf(`(() => {
			const bin = document.querySelector("[data-testid=engine-binary-path]").textContent;
			const pr = document.querySelector("[data-testid=engine-download-progress]");
			return bin.endsWith("/mediamtx") && !pr.hidden && pr.dataset.done === %[1]q && pr.dataset.total === %[1]q &&
				pr.getAttribute("aria-valuenow") === "100" && pr.innerText.startsWith("Downloaded") &&
				document.querySelector("[data-testid=engine-download-error]").hidden;
		})()`, size),
		engineCardText)
	wantMB := fmt.Sprintf("%.1f / %.1f MB", float64(archive.Size())/(1<<20), float64(archive.Size())/(1<<20))
	if text := evalJS[string](b, `document.querySelector("[data-testid=engine-download-progress]").innerText`); text != "Downloaded "+wantMB {
		t.Errorf("progress text %q, want %q", text, "Downloaded "+wantMB)
	}
	for _, id := range []string{"engine-config-path", "engine-platform"} {
		if text := evalJS[string](b, fmt.Sprintf(`document.querySelector("[data-testid=%s]").textContent`, id)); text == "" || text == "—" {
			t.Errorf("%s shows %q", id, text)
		}
	}
	if _, out := s.call("GET", "/engine/status", ""); jget(out, "running") != false {
		t.Errorf("Download started the engine: %v", out)
	}

	// Start from the card: MediaMTX runs (its own process).
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-start]")))
	b.waitJS(30*time.Second, "MediaMTX running",
		`document.querySelector("[data-testid=engine-state]").textContent === "Running" && document.querySelector("[data-testid=engine-kind-label]").textContent.startsWith("MediaMTX") && document.querySelector("[data-testid=engine-start]").disabled`,
		engineCardText)
	if got, want := evalJS[string](b, `document.querySelector("[data-testid=engine-rtp]").textContent`), fmt.Sprintf("%d/%d", p[4], p[4]+1); got != want {
		t.Errorf("the card shows RTP/RTCP %q, want %q", got, want)
	}
	_, st := s.call("GET", "/engine/status", "")
	pid, _ := jget(st, "pid").(float64)
	if jget(st, "running") != true || jget(st, "kind") != "mediamtx" || pid == 0 || int(pid) == s.cmd.Process.Pid {
		t.Fatalf("status %v", st)
	}
	if got, want := evalJS[string](b, `document.querySelector("[data-testid=engine-binary-path]").textContent`), jget(st, "binary_path"); got != want {
		t.Errorf("binary path row %q, status %v", got, want)
	}
	b.waitJS(10*time.Second, "the log path shown", fmt.Sprintf(`document.querySelector("[data-testid=engine-log-path]").textContent === %q`, fmt.Sprint(jget(st, "log_path"))), engineCardText)
	b.do(5*time.Second, jsDo(`(window.scrollTo(0, 0), true)`))
	b.screenshot("settings-engine-mediamtx.png")

	// With the engine stopped, a stray MediaMTX on this data dir's config
	// (one a killed service would leave) shows with Reclaim, which stops it;
	// then the engine starts again on its ports.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-stop]")))
	b.waitJS(15*time.Second, "the engine stopped", `document.querySelector("[data-testid=engine-state]").textContent === "Stopped"`, engineCardText)
	stray := exec.Command(jget(st, "binary_path").(string), jget(st, "config_path").(string))
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stray.Process.Kill(); _ = stray.Wait() }()
	b.waitJS(15*time.Second, "the stray listed with Reclaim",
		fmt.Sprintf(`document.querySelector("[data-testid=engine-orphans]").textContent === "pid %d" && !document.querySelector("[data-testid=engine-reclaim]").hidden`, stray.Process.Pid),
		engineCardText)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-reclaim]")))
	b.waitJS(10*time.Second, "the stray gone from the card",
		`document.querySelector("[data-testid=engine-orphans]").textContent === "none" && document.querySelector("[data-testid=engine-reclaim]").hidden`,
		engineCardText)
	if processAlive(stray.Process.Pid) {
		t.Error("the stray still runs after Reclaim")
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-start]")))
	b.waitJS(30*time.Second, "MediaMTX running again", `document.querySelector("[data-testid=engine-state]").textContent === "Running"`, engineCardText)
	if _, out := s.call("GET", "/engine/status", ""); jget(out, "running") != true || jget(out, "kind") != "mediamtx" || jget(out, "ports", "rtsp") != float64(p[0]) {
		t.Errorf("after Reclaim and Start: %v", out)
	}
}

// A failed download shows the server's detail, which says what to do, and
// the engine stays as it was.
func TestUIEngineDownloadError(t *testing.T) {
	requireChromium(t)
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://"+t.TempDir()) // an empty mirror
	if status, out := s.call("PATCH", "/settings", `{"engine":{"kind":"mediamtx"}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "the MediaMTX rows, not installed",
		`document.querySelector("[data-testid=engine-kind]")?.value === "mediamtx" && document.querySelector("[data-testid=engine-binary-path]")?.textContent === "not installed"`,
		engineCardText)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-download]")))
	b.waitJS(30*time.Second, "the download error with what to do",
		`(() => { const e = document.querySelector("[data-testid=engine-download-error]"); return !e.hidden && e.textContent.includes("Failed to download MediaMTX") && e.textContent.includes("TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL") && !document.querySelector("[data-testid=engine-download]").disabled })()`,
		engineCardText)
	if _, out := s.call("GET", "/engine/status", ""); jget(out, "binary_path") != nil || jget(out, "running") != false {
		t.Errorf("status after a failed download: %v", out)
	}
}

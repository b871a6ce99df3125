package encoder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// countingFFmpeg is the real ffmpeg behind a script that logs each run's
// arguments to a file, one line a run; hide removes encoders from its
// -encoders list.
func countingFFmpeg(t *testing.T, hide ...string) (bin string, runs func() []string) {
	t.Helper()
	testutil.RequireFFmpeg(t)
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	filter := "cat"
	for _, h := range hide {
		filter += " | grep -v ' " + h + " '"
	}
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\n" +
		"case \"$*\" in *-encoders*) " + real + " \"$@\" | " + filter + "; exit 0;; esac\n" +
		"exec " + real + " \"$@\"\n"
	bin = filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, func() []string {
		raw, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(raw)), "\n")
	}
}

// This machine has no GPU: h264_nvenc is listed by ffmpeg but its test
// encode fails, so libx264 runs, with a warning naming why; the probe runs
// once per binary and encoder however often and concurrently it is asked.
func TestProbeFallsBackToLibx264(t *testing.T) {
	bin, runs := countingFFmpeg(t)
	p := &Prober{}
	var wg sync.WaitGroup
	sels := make([]Selection, 4)
	errs := make([]error, 4)
	for i := range sels {
		wg.Go(func() { sels[i], errs[i] = p.Select(context.Background(), bin, model.H264EncoderNVENC) })
	}
	wg.Wait()
	for i, sel := range sels {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if sel.Requested != model.H264EncoderNVENC || sel.Codec != model.H264EncoderLibx264 || sel.Hardware ||
			!strings.HasPrefix(sel.Warning, "h264_nvenc: test encode failed (exit status 1): [h264_nvenc] ") || !strings.HasSuffix(sel.Warning, "; using libx264 instead") {
			t.Errorf("selection %+v", sel)
		}
	}
	t.Logf("warning: %s", sels[0].Warning)
	// -encoders once, then one test encode each of h264_nvenc and libx264.
	if r := runs(); len(r) != 3 || !strings.Contains(r[0], "-encoders") || !strings.Contains(r[1], "h264_nvenc") || !strings.Contains(r[2], "libx264") {
		t.Fatalf("ffmpeg runs:\n%s", strings.Join(r, "\n"))
	}
	// libx264 asked for: no warning, and nothing runs again.
	if sel, err := p.Select(context.Background(), bin, model.H264EncoderLibx264); err != nil || sel != (Selection{Requested: model.H264EncoderLibx264, Codec: model.H264EncoderLibx264}) {
		t.Errorf("libx264: %+v %v", sel, err)
	}
	if sel, _ := p.Select(context.Background(), bin, model.H264EncoderNVENC); sel != sels[0] || len(runs()) != 3 {
		t.Errorf("a second ask ran ffmpeg again: %d runs", len(runs()))
	}
}

// auto tries every hardware encoder (an unlisted one without running it)
// and settles on libx264 with a warning listing why each failed.
func TestProbeAuto(t *testing.T) {
	bin, runs := countingFFmpeg(t, "h264_qsv")
	sel, err := (&Prober{}).Select(context.Background(), bin, "")
	if err != nil {
		t.Fatal(err)
	}
	if sel.Requested != model.H264EncoderAuto || sel.Codec != model.H264EncoderLibx264 || sel.Hardware {
		t.Errorf("selection %+v", sel)
	}
	for _, want := range []string{"no hardware H.264 encoder works here", "h264_nvenc: test encode failed", "h264_qsv: not in this ffmpeg's encoder list", "h264_vaapi: test encode failed", "using libx264"} {
		if !strings.Contains(sel.Warning, want) {
			t.Errorf("warning %q lacks %q", sel.Warning, want)
		}
	}
	for _, r := range runs() {
		if strings.Contains(r, "h264_qsv") {
			t.Errorf("an unlisted encoder was run: %s", r)
		}
	}
}

func TestProbeErrors(t *testing.T) {
	p := &Prober{}
	if _, err := p.Select(context.Background(), "/nonexistent/ffmpeg", model.H264EncoderLibx264); err == nil || !strings.Contains(err.Error(), "no usable H.264 encoder") {
		t.Errorf("missing ffmpeg: %v", err)
	}
	if _, err := p.Select(context.Background(), "ffmpeg", "h264_amf"); err == nil || !strings.Contains(err.Error(), "unknown H.264 encoder") {
		t.Errorf("unknown encoder: %v", err)
	}
	// No libx264 either: nothing to fall back to.
	bin, _ := countingFFmpeg(t, "libx264")
	if _, err := p.Select(context.Background(), bin, model.H264EncoderVAAPI); err == nil || !strings.Contains(err.Error(), "libx264: not in this ffmpeg's encoder list") {
		t.Errorf("no libx264: %v", err)
	}
}

// TestFallbackWarnedOnce: the fallback warning of a Prober is logged at
// Warn level once, not at every encoder start (each viewer of an idle output
// starts one).
func TestFallbackWarnedOnce(t *testing.T) {
	p := &Prober{}
	if !p.firstWarning("no hardware") || p.firstWarning("no hardware") || !p.firstWarning("h264_vaapi: no device") {
		t.Fatal("want each distinct warning reported as new exactly once")
	}
}

package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

func runCheck(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"check"}, args...), func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}, &out, &errOut)
	return code, out.String() + errOut.String()
}

// check says what serve needs and what to fix, with exit 1 when something
// must be fixed.
func TestCheck(t *testing.T) {
	testutil.RequireFFmpeg(t)
	free := testutil.FreePorts(t, 1)[0]
	listen := "127.0.0.1:" + strconv.Itoa(free)
	dir := t.TempDir()
	code, out := runCheck(t, nil, "--data-dir", dir, "--listen", listen)
	for _, want := range []string{"ok    data dir", "ok    ffmpeg", "ok    H.264 encoder: libx264", "ok    API address", "ok    JPEG ingest decoder: " + frame.JPEGDecoder, "Ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d on a good machine:\n%s", code, out)
	}

	// What must be fixed: no ffmpeg, a broken settings file, a taken API
	// address, a MediaMTX binary that is not there.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), []byte(`{"streams": {"engine": {"kind": "mediamtx"}}, "typo": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runCheck(t, map[string]string{"TOPOSYNC_STREAMING_FFMPEG_PATH": "/nonexistent/ffmpeg"}, "--data-dir", dir, "--listen", listen)
	for _, want := range []string{"FAIL  ffmpeg", "TOPOSYNC_STREAMING_FFMPEG_PATH", "FAIL  settings", `"typo"`, "FAIL  API address", "already running"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d with problems, want 1", code)
	}
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), []byte(`{"streams": {"engine": {"kind": "mediamtx"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runCheck(t, map[string]string{"TOPOSYNC_STREAMING_ENGINE_PATH": "/nonexistent/mediamtx"}, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "FAIL  MediaMTX") {
		t.Errorf("a missing MediaMTX binary: exit %d\n%s", code, out)
	}
	code, out = runCheck(t, map[string]string{"TOPOSYNC_STREAMING_ENGINE_CACHE_DIR": t.TempDir()}, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != 0 || !strings.Contains(out, "warn  MediaMTX") || !strings.Contains(out, "downloads") {
		t.Errorf("MediaMTX not downloaded yet: exit %d\n%s", code, out)
	}
}

package testutil

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMediaMTXMirror(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvMediaMTXMirror, dir)
	if got := MediaMTXMirror(t); got != dir {
		t.Errorf("with %s set: got %q, want %q", EnvMediaMTXMirror, got, dir)
	}

	t.Setenv(EnvMediaMTXMirror, filepath.Join(dir, "missing"))
	f := run(func(tb testing.TB) { MediaMTXMirror(tb) })
	if !strings.Contains(f.fatal, "is not a directory") {
		t.Errorf("missing mirror named by %s: fatal %q, skip %q", EnvMediaMTXMirror, f.fatal, f.skip)
	}

	// Outside any module there is no checkout to look beside.
	t.Setenv(EnvMediaMTXMirror, "")
	t.Chdir(dir)
	t.Setenv("CI", "")
	f = run(func(tb testing.TB) { MediaMTXMirror(tb) })
	if f.fatal != "" || !strings.Contains(f.skip, "set "+EnvMediaMTXMirror) {
		t.Errorf("no mirror outside CI: fatal %q, skip %q", f.fatal, f.skip)
	}
	t.Setenv("CI", "true")
	f = run(func(tb testing.TB) { MediaMTXMirror(tb) })
	if f.skip != "" || !strings.Contains(f.fatal, "no MediaMTX release mirror") {
		t.Errorf("no mirror in CI: fatal %q, skip %q", f.fatal, f.skip)
	}
}

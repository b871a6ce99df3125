package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvMediaMTXMirror names a directory laid out like MediaMTX's release
// downloads (<version>/<asset>, <version>/checksums.sha256), for the tests
// that install and run the real MediaMTX.
const EnvMediaMTXMirror = "TOPOSYNC_TEST_MEDIAMTX_MIRROR"

// MediaMTXMirrorVersion is the release a mirror must hold:
// MediaMTXMirrorVersion/mediamtx_<version>_linux_amd64.tar.gz.
const MediaMTXMirrorVersion = "v1.20.1"

// MediaMTXMirror returns the MediaMTX release mirror: the directory
// TOPOSYNC_TEST_MEDIAMTX_MIRROR names (it must exist), else
// shared/mediamtx-mirror beside the repository checkout. Without one it
// skips the test (fails it in CI, see SkipOrFail), saying how to provide one.
func MediaMTXMirror(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(EnvMediaMTXMirror); dir != "" {
		if !isDir(dir) {
			t.Fatalf("%s=%s is not a directory", EnvMediaMTXMirror, dir)
		}
		return dir
	}
	beside := ""
	if root, ok := moduleRoot(); ok {
		beside = filepath.Join(filepath.Dir(root), "shared", "mediamtx-mirror")
		if isDir(beside) {
			return beside
		}
	}
	SkipOrFail(t, "no MediaMTX release mirror (looked for %q): set %s to a directory holding %s/mediamtx_%s_linux_amd64.tar.gz and %s/checksums.sha256; test skipped",
		beside, EnvMediaMTXMirror, MediaMTXMirrorVersion, MediaMTXMirrorVersion, MediaMTXMirrorVersion)
	return ""
}

// moduleRoot is the nearest directory at or above the working directory
// (a test's package dir) that holds go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

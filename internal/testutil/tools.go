package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the tests run in CI: the CI environment variable is
// true (CI=true, as GitHub Actions and most CI systems set it, or CI=1).
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// SkipOrFail skips the test with the reason, except in CI, where it fails
// it: CI must run every test, never silently skip one.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: a missing dependency fails the test instead of skipping it)", reason)
	}
	t.Skip(reason)
}

// RequireCommand skips the test (fails it in CI, see SkipOrFail) unless
// every named program is on PATH. hint says how to install them.
func RequireCommand(t testing.TB, hint string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			SkipOrFail(t, "%s not on PATH (%s): test skipped", name, hint)
		}
	}
}

// ffmpegHint says how to get ffmpeg and ffprobe.
const ffmpegHint = "make test installs it, or scripts/deps.sh ffmpeg"

// RequireFFmpeg skips the test (fails it in CI) unless ffmpeg is on PATH.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	RequireCommand(t, ffmpegHint, "ffmpeg")
}

// RequireFFmpegAndFFprobe skips the test (fails it in CI) unless both ffmpeg
// and ffprobe are on PATH.
func RequireFFmpegAndFFprobe(t testing.TB) {
	t.Helper()
	RequireCommand(t, ffmpegHint, "ffmpeg", "ffprobe")
}

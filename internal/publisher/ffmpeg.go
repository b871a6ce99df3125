// Package publisher runs and supervises the ffmpeg processes of publishers
// (video into engine paths), the test pattern and camera sources: it finds
// ffmpeg, builds publisher command lines, and supervises each process
// (restart with backoff inside a restart budget, per-process log files, an
// stderr tail for status, hooks for stdout and stderr lines) keeping
// credentials out of everything it logs or reports. It never decides when a
// process should run; callers do.
package publisher

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment variables read by this package.
const (
	EnvFFmpegPath     = "TOPOSYNC_STREAMING_FFMPEG_PATH"
	EnvFFmpegLogLevel = "TOPOSYNC_STREAMING_FFMPEG_LOGLEVEL"
)

// FindFFmpeg returns the ffmpeg to run: TOPOSYNC_STREAMING_FFMPEG_PATH (a
// file, or a directory holding ffmpeg) when set, else ffmpeg on PATH.
func FindFFmpeg(getenv func(string) string) (string, error) {
	if p := strings.TrimSpace(getenv(EnvFFmpegPath)); p != "" {
		info, err := os.Stat(p)
		if err == nil && info.IsDir() {
			p = filepath.Join(p, "ffmpeg")
			info, err = os.Stat(p)
		}
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s does not point to an executable ffmpeg: fix the variable or unset it to use ffmpeg from PATH", EnvFFmpegPath, getenv(EnvFFmpegPath))
		}
		return p, nil
	}
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("ffmpeg not found: install it (apt-get install ffmpeg) or set %s", EnvFFmpegPath)
		}
		return "", err
	}
	return p, nil
}

// LogLevel is ffmpeg's -loglevel: TOPOSYNC_STREAMING_FFMPEG_LOGLEVEL or "warning".
func LogLevel(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(EnvFFmpegLogLevel)); v != "" {
		return v
	}
	return "warning"
}

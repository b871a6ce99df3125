package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

var exampleFrames = regexp.MustCompile(`^200 .*'frames': (\d+)`)

// The README's Python example publishes frames a viewer then decodes; with
// API credentials on, it sends them (here the token from the environment).
func TestPythonExamplePublishes(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	t.Run("open", func(t *testing.T) { runExample(t, nil, 5) })
	t.Run("token", func(t *testing.T) { runExample(t, []string{"TOPOSYNC_STREAMING_API_TOKEN=example-token"}, 3) })
}

func runExample(t *testing.T, env []string, seconds int) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"), env...)
	cmd := exec.Command("python3", "../examples/publish_frames.py", "--api", strings.TrimSuffix(f.base, "/api/streams"),
		"--transmission", f.id, "--width", "320", "--height", "240", "--fps", "15", "--seconds", strconv.Itoa(seconds))
	cmd.Env = append(os.Environ(), env...)
	done := make(chan []byte, 1)
	go func() {
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("example: %v", err)
		}
		done <- out
	}()
	testutil.Eventually(t, 10*time.Second, "the example's writer shown", func() bool { return f.activeWriter() == "example:bar" })
	// The bar (40 px wide) covers at most one of four points 80 px apart.
	picture, blue, seen := f.current(), 0, []rgb{}
	for x := 20; x < 320; x += 80 {
		c := f.colourAt(picture, x, 200)
		seen = append(seen, c)
		if c.near(rgb{0x10, 0x10, 0x40}, 20) {
			blue++
		}
	}
	if blue < 3 {
		t.Errorf("background %v, want the example's dark blue in at least three", seen)
	}
	out := strings.TrimSpace(string(<-done))
	m := exampleFrames.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("example output %q", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 12*seconds {
		t.Errorf("the example sent %d frames in %d s at 15 fps", n, seconds)
	}
}

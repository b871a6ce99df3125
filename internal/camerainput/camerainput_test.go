package camerainput

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// filesDir is a camera files directory with a clip, a sub directory, and
// links inside it pointing in and out.
func filesDir(t *testing.T) (dir, outside string) {
	t.Helper()
	root := t.TempDir()
	dir, outside = filepath.Join(root, "media"), filepath.Join(root, "secret")
	for _, d := range []string{dir, outside, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(dir, "clip.mp4"), filepath.Join(dir, "sub", "b.mkv"), filepath.Join(outside, "passwd")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"to-secret":     filepath.Join(outside, "passwd"),
		"to-secret-dir": outside,
		"to-clip":       "clip.mp4",
		"dangling":      filepath.Join(outside, "later.mp4"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, outside
}

func TestAccepted(t *testing.T) {
	dir, _ := filesDir(t)
	p := Policy{FilesDir: dir}
	for raw, want := range map[string]Input{
		"testsrc":                       {Kind: TestScene},
		"rtsp://10.0.0.5:554/stream1":   {Kind: RTSP},
		"RTSPS://cam.example/live?ch=2": {Kind: RTSP},
		"rtsp://[::1]:8554/x":           {Kind: RTSP},
		"clip.mp4":                      {Kind: File, Path: filepath.Join(dir, "clip.mp4")},
		"./sub/b.mkv":                   {Kind: File, Path: filepath.Join(dir, "sub", "b.mkv")},
		filepath.Join(dir, "clip.mp4"):  {Kind: File, Path: filepath.Join(dir, "clip.mp4")},
		"sub/../clip.mp4":               {Kind: File, Path: filepath.Join(dir, "clip.mp4")},
		"to-clip":                       {Kind: File, Path: filepath.Join(dir, "clip.mp4")}, // ffmpeg gets the target
		"not-yet.mp4":                   {Kind: File, Path: filepath.Join(dir, "not-yet.mp4")},
		"new/dir/later.mp4":             {Kind: File, Path: filepath.Join(dir, "new", "dir", "later.mp4")},
		"-i":                            {Kind: File, Path: filepath.Join(dir, "-i")},
	} {
		got, err := p.Check(raw)
		if err != nil || got != want {
			t.Errorf("Check(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

func TestRefused(t *testing.T) {
	dir, outside := filesDir(t)
	p := Policy{FilesDir: dir}
	for raw, why := range map[string]string{
		"":                                       "empty",
		"/etc/passwd":                            "not inside the camera files directory",
		"../secret/passwd":                       "not inside",
		"sub/../../secret/passwd":                "not inside",
		filepath.Join(outside, "passwd"):         "not inside",
		"to-secret":                              "not inside",
		"to-secret-dir/passwd":                   "not inside",
		"to-secret-dir/new.mp4":                  "not inside",
		"dangling":                               "link to something that does not exist",
		".":                                      "not inside", // the directory itself
		dir:                                      "not inside",
		"sub":                                    "not a regular file",
		"fifo":                                   "not a regular file",
		"lavfi:color":                            `"lavfi" inputs are not accepted`,
		"concat:clip.mp4|/etc/passwd":            `"concat" inputs are not accepted`,
		"http://example.org/a.m3u8":              `"http" inputs are not accepted`,
		"file:/etc/passwd":                       `"file" inputs are not accepted`,
		"file:clip.mp4":                          `"file" inputs are not accepted`,
		"subfile,,0,100,,:/etc/passwd":           "file names cannot contain ':'",
		"pipe:0":                                 `"pipe" inputs are not accepted`,
		"clip:1.mp4":                             `"clip" inputs are not accepted`,
		"rtsp://":                                "needs a host",
		"rtsp:///path":                           "needs a host",
		"rtsp:cam/stream":                        "needs a host",
		"rtsp://admin:hunter2@cam/stream":        "username and password",
		"rtsp://cam/a\nb":                        "control characters",
		"clip.mp4\x00":                           "control characters",
		"udp://0.0.0.0:1234":                     `"udp" inputs are not accepted`,
		"tcp://10.0.0.1:554":                     `"tcp" inputs are not accepted`,
		"rtmp://x/y":                             `"rtmp" inputs are not accepted`,
		"data:text/plain;base64,AAAA":            `"data" inputs are not accepted`,
		"async:rtsp://cam/stream":                `"async" inputs are not accepted`,
		"C:\\videos\\a.mp4":                      `"c" inputs are not accepted`,
		"movie=/etc/passwd[out0]":                "", // a plain relative name: accepted as a file inside dir
		"sub/b.mkv/../../../secret/passwd":       "not inside",
		strings.Repeat("../", 40) + "etc/shadow": "not inside",
	} {
		_, err := p.Check(raw)
		if why == "" {
			if err != nil {
				t.Errorf("Check(%q): %v", raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("Check(%q) = %v, want an error saying %q", raw, err, why)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Check(%q) repeats the password: %v", raw, err)
		}
	}
}

func TestMessageNamesWhatIsAccepted(t *testing.T) {
	_, err := Policy{FilesDir: "/srv/media"}.Check("http://x/y")
	for _, want := range []string{"rtsp://", "rtsps://", "/srv/media", "relative path", "testsrc"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("message %v does not name %q", err, want)
		}
	}
	if _, err := (Policy{}).Check("clip.mp4"); err == nil || strings.Contains(err.Error(), "video file") {
		t.Errorf("without a files dir: %v", err)
	}
}

// A files directory that is itself a link works, and a file reached
// through the link's own path is inside it.
func TestFilesDirIsALink(t *testing.T) {
	dir, _ := filesDir(t)
	link := filepath.Join(t.TempDir(), "media-link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	p := Policy{FilesDir: link}
	for _, raw := range []string{"clip.mp4", filepath.Join(link, "clip.mp4"), filepath.Join(dir, "clip.mp4")} {
		if got, err := p.Check(raw); err != nil || got.Path != filepath.Join(dir, "clip.mp4") {
			t.Errorf("Check(%q) = %+v, %v", raw, got, err)
		}
	}
}

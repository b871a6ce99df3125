// Package camerainput decides what a camera URL may make ffmpeg open: an
// rtsp:// or rtsps:// URL with a host, a local file inside the camera files
// directory, or the built-in test scene ("testsrc"). Anything else ffmpeg
// could read (other protocols such as http:, file:, concat:, subfile,
// lavfi graphs, or files elsewhere on the machine) is refused, both when a
// camera is saved and again when its source starts.
package camerainput

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Kind is what a camera input is.
type Kind int

// Input kinds.
const (
	TestScene Kind = iota + 1 // model.TestSource
	RTSP                      // rtsp:// or rtsps://
	File                      // a local file inside the files directory
)

// Input is an accepted camera input.
type Input struct {
	Kind Kind
	// Path is a File's absolute path with every symbolic link resolved:
	// what ffmpeg must open (as "file:" + Path), not what was written.
	Path string
}

// Protocols are ffmpeg's -protocol_whitelist for each input kind: an RTSP
// input opens its TCP (TLS for rtsps) control connection and, over UDP,
// RTP/UDP sockets; a file input opens that file only.
const (
	RTSPProtocols = "rtsp,rtsps,tcp,tls,udp,rtp"
	FileProtocols = "file"
)

// Policy says which camera inputs are accepted.
type Policy struct {
	// FilesDir is the only directory local video files may be in (below
	// it, at any depth); a relative path is taken inside it. Empty: no
	// local files at all.
	FilesDir string
}

// Accepted names what a camera URL may be, for error messages.
func (p Policy) Accepted() string {
	if p.FilesDir == "" {
		return "an rtsp:// or rtsps:// URL with a host, or 'testsrc' (the built-in test scene)"
	}
	return fmt.Sprintf("an rtsp:// or rtsps:// URL with a host, a video file inside %s (a relative path is taken inside it), or 'testsrc' (the built-in test scene)", p.FilesDir)
}

// Check accepts raw (a camera's URL, trimmed) or says why not; the message
// names what is accepted. It never repeats a URL, which may hold secrets.
func (p Policy) Check(raw string) (Input, error) {
	switch {
	case raw == model.TestSource:
		return Input{Kind: TestScene}, nil
	case raw == "":
		return Input{}, p.refuse("the URL is empty")
	case strings.ContainsFunc(raw, unicode.IsControl):
		return Input{}, p.refuse("control characters are not allowed")
	case strings.Contains(raw, ":"):
		// ffmpeg reads "name:" (and "subfile,,...:") as a protocol, so a
		// value with a colon is a URL, never a file name.
		if err := p.checkURL(raw); err != nil {
			return Input{}, err
		}
		return Input{Kind: RTSP}, nil
	}
	return p.checkFile(raw)
}

func (p Policy) refuse(why string) error {
	return fmt.Errorf("%s: use %s", why, p.Accepted())
}

func (p Policy) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return p.refuse("not a URL ffmpeg may open (file names cannot contain ':')")
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme != "rtsp" && scheme != "rtsps":
		return p.refuse(fmt.Sprintf("%q inputs are not accepted", scheme))
	case u.Opaque != "" || u.Hostname() == "":
		return p.refuse(fmt.Sprintf("a %s URL needs a host (%s://host[:port]/path)", scheme, scheme))
	case u.User != nil:
		return errors.New("put credentials in username and password, not in the URL")
	}
	return nil
}

func (p Policy) checkFile(raw string) (Input, error) {
	if p.FilesDir == "" {
		return Input{}, p.refuse("local files are not accepted here")
	}
	dir, err := filepath.Abs(p.FilesDir)
	if err != nil {
		return Input{}, err
	}
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved // a files dir that is itself a link is fine
	}
	path := raw
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	path, err = resolve(filepath.Clean(path))
	if err != nil {
		return Input{}, fmt.Errorf("cannot check the file: %w", err)
	}
	if rel, err := filepath.Rel(dir, path); err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return Input{}, p.refuse(fmt.Sprintf("%s is not inside the camera files directory (after following links)", path))
	}
	switch info, err := os.Stat(path); {
	case err == nil && !info.Mode().IsRegular():
		return Input{}, p.refuse(fmt.Sprintf("%s is not a regular file", path))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Input{}, fmt.Errorf("cannot check the file: %w", err)
	}
	// A file that does not exist yet is accepted: its source reports
	// "No such file" until it is copied in.
	return Input{Kind: File, Path: path}, nil
}

// resolve follows the symbolic links of the longest existing prefix of
// the clean absolute path p and appends the rest, which does not exist;
// a dangling link on the way is an error.
func resolve(p string) (string, error) {
	rest := ""
	for {
		resolved, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(resolved, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if _, err := os.Lstat(p); err == nil {
			// p is there but leads nowhere: a link whose target may
			// appear later, anywhere.
			return "", fmt.Errorf("%s is a link to something that does not exist", p)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

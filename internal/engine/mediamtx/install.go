package mediamtx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
)

// binaryName is the executable's name, in a release archive and on disk.
const binaryName = "mediamtx"

// lockWait bounds how long Install waits for another download of the same
// binary: longer than one download may take.
const lockWait = assetTimeout + checksumsTimeout + time.Minute

// ErrNotInstalled is what Resolve returns when neither
// TOPOSYNC_STREAMING_ENGINE_PATH is set nor the cache holds the binary:
// Install would download it.
var ErrNotInstalled = errors.New("MediaMTX is not installed")

// Installer finds the MediaMTX binary or installs it: from
// TOPOSYNC_STREAMING_ENGINE_PATH, else the cache
// <root>/streaming/mediamtx/<version>/<platform>/mediamtx, else a verified
// download into that cache. Its zero value lacks a Version; set the fields
// before the first call and do not change them after. Its methods are safe
// for concurrent use.
type Installer struct {
	// Version is the MediaMTX release, as upstream tags it ("v1.20.1").
	Version string
	// DataRuntimeDir is the data dir's runtime dir (<data dir>/runtime): the
	// cache root unless TOPOSYNC_STREAMING_ENGINE_CACHE_DIR is set.
	DataRuntimeDir string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Client fetches http(s) URLs; nil means http.DefaultClient. Install
	// bounds each request with its own timeout.
	Client *http.Client
	// Logger receives the download's start, progress and end; nil discards.
	Logger *slog.Logger

	mu       sync.Mutex
	progress Progress
}

// Progress is the state of an Installer's download, for the engine status.
type Progress struct {
	// Done is the archive's bytes received so far.
	Done int64 `json:"done"`
	// Total is the archive's size, -1 while unknown; after a successful
	// download it equals Done.
	Total int64 `json:"total"`
	// Active is true while a download runs.
	Active bool `json:"active"`
	// Err is why the last download failed, "" if it did not.
	Err string `json:"error,omitempty"`
}

// Resolve returns the binary to run without downloading anything:
// TOPOSYNC_STREAMING_ENGINE_PATH when set (an error if it names no
// executable, never a fallback), else the cached binary, else an error
// wrapping ErrNotInstalled.
func (in *Installer) Resolve(ctx context.Context) (string, error) {
	path, _, err := in.resolve(ctx)
	return path, err
}

// Install returns the binary to run like Resolve, downloading and installing
// it into the cache when it is not there. Concurrent Installs of the same
// cache dir, in this process or others, download once.
func (in *Installer) Install(ctx context.Context) (string, error) {
	path, dir, err := in.resolve(ctx)
	if !errors.Is(err, ErrNotInstalled) {
		return path, err
	}
	unlock, err := lockInstallDir(ctx, dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Whoever held the lock before us may have installed it.
	bin := filepath.Join(dir, binaryName)
	if isExecutable(bin) {
		return bin, nil
	}
	removeLeftovers(dir)
	started := time.Now()
	in.begin()
	err = in.download(ctx, dir)
	if err != nil {
		err = fmt.Errorf("install MediaMTX %s: %w; set %s to a MediaMTX binary, or %s to a mirror with the same <version>/<asset> layout",
			in.Version, err, config.EnvEnginePath, config.EnvEngineDownloadBaseURL)
		bin = ""
	}
	in.finish(bin, started, err)
	return bin, err
}

// Progress returns the state of the current or last download.
func (in *Installer) Progress() Progress {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.progress
}

// BinaryPath is the binary Resolve finds, "" when there is none yet.
func (in *Installer) BinaryPath() string {
	path, _ := in.Resolve(context.Background())
	return path
}

// Platform is this machine's release target ("linux-x64", "linux-arm64",
// "darwin-x64", "darwin-arm64"); on others it is GOOS-GOARCH, which Install
// refuses.
func (in *Installer) Platform() string {
	p, err := currentPlatform()
	if err != nil {
		return runtime.GOOS + "-" + runtime.GOARCH
	}
	return p.key
}

// resolve is Resolve that also returns the cache dir, for Install.
func (in *Installer) resolve(ctx context.Context) (path, dir string, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	if p := strings.TrimSpace(in.getenv(config.EnvEnginePath)); p != "" {
		path, err := fromEnginePath(config.ExpandHome(p))
		return path, "", err
	}
	dir, err = in.installDir()
	if err != nil {
		return "", "", err
	}
	if bin := filepath.Join(dir, binaryName); isExecutable(bin) {
		return bin, dir, nil
	}
	return "", dir, fmt.Errorf("%w in %s", ErrNotInstalled, dir)
}

// fromEnginePath is the binary TOPOSYNC_STREAMING_ENGINE_PATH names: the
// file itself, or mediamtx inside the directory.
func fromEnginePath(p string) (string, error) {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, binaryName)
	}
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s points to a missing MediaMTX binary (%v); set it to the mediamtx executable or a directory holding one, or unset it to use the downloaded one", config.EnvEnginePath, err)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s points to %s, which is not an executable file; chmod +x it or point the variable at the mediamtx executable", config.EnvEnginePath, p)
	}
	return p, nil
}

// installDir is <root>/streaming/mediamtx/<version>/<platform>.
func (in *Installer) installDir() (string, error) {
	p, err := currentPlatform()
	if err != nil {
		return "", err
	}
	// The version is a path element and a URL element.
	if v := in.Version; v == "" || v == "." || v == ".." || strings.ContainsAny(v, `/\`) {
		return "", fmt.Errorf("invalid MediaMTX version %q", v)
	}
	root := config.ExpandHome(strings.TrimSpace(in.getenv(config.EnvEngineCacheDir)))
	if root == "" {
		root = in.DataRuntimeDir
	}
	if root == "" {
		return "", fmt.Errorf("no MediaMTX cache dir: set %s or pass the data dir's runtime dir", config.EnvEngineCacheDir)
	}
	return filepath.Join(root, "streaming", "mediamtx", in.Version, p.key), nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// dirLocks holds one single-slot channel per install dir: the in-process
// half of the download lock, which, unlike flock polling, hands over at once.
var dirLocks sync.Map

// lockInstallDir creates dir and locks it against other downloads into it,
// from this process (dirLocks) and from others (a flock on dir/.lock).
func lockInstallDir(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create MediaMTX cache dir: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, lockWait, fmt.Errorf("another download held the lock for more than %v", lockWait))
	defer cancel()
	slot, _ := dirLocks.LoadOrStore(dir, make(chan struct{}, 1))
	ch := slot.(chan struct{})
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another MediaMTX download into %s: %w", dir, context.Cause(ctx))
	}
	unlockFile, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		<-ch
		return nil, err
	}
	return func() {
		unlockFile()
		<-ch
	}, nil
}

// Temp files of a download: the archive and the binary before its rename.
const (
	archiveTempPattern = ".download-*"
	binaryTempPattern  = ".mediamtx-*.tmp"
)

// removeLeftovers deletes temp files a killed process left behind. It runs
// under the lock, so no download is writing them.
func removeLeftovers(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		for _, pattern := range []string{archiveTempPattern, binaryTempPattern} {
			if ok, _ := filepath.Match(pattern, e.Name()); ok {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

func (in *Installer) getenv(key string) string {
	if in.Getenv == nil {
		return os.Getenv(key)
	}
	return in.Getenv(key)
}

func (in *Installer) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Logger
}

func (in *Installer) client() *http.Client {
	if in.Client == nil {
		return http.DefaultClient
	}
	return in.Client
}

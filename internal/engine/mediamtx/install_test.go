package mediamtx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// TestMain fails the package's tests if any goroutine is still running
// after them.
const version = testutil.MediaMTXMirrorVersion

// noEnv is an empty environment, so the tests never read the real one.
func noEnv(string) string { return "" }

// newInstaller returns an Installer of version with its own data runtime
// dir, the environment env and a logger into the returned buffer.
func newInstaller(t *testing.T, env map[string]string) (*Installer, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	return &Installer{
		Version:        version,
		DataRuntimeDir: t.TempDir(),
		Getenv:         func(k string) string { return env[k] },
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
	}, logs
}

// installDirOf is where in installs, failing the test on this machine's
// unsupported platform.
func installDirOf(t *testing.T, in *Installer) string {
	t.Helper()
	dir, err := in.installDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireOnlyLock fails unless dir holds nothing but the lock file: no
// binary, no temp file.
func requireOnlyLock(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("%s holds %s after a failed install", dir, e.Name())
		}
	}
}

// server serves a release mirror over HTTP and counts the requests.
type server struct {
	URL      string
	Client   *http.Client
	requests atomic.Int64
	assets   atomic.Int64 // requests of .tar.gz files
}

// serveMirror serves dir, with override's bodies in place of the files at
// those URL paths.
func serveMirror(t *testing.T, dir string, override map[string]string) *server {
	t.Helper()
	s := &server{}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if strings.HasSuffix(r.URL.Path, ".tar.gz") {
			s.assets.Add(1)
		}
		if r.Header.Get("User-Agent") != userAgent {
			http.Error(w, "wrong User-Agent "+r.Header.Get("User-Agent"), http.StatusForbidden)
			return
		}
		if body, ok := override[r.URL.Path]; ok {
			_, _ = w.Write([]byte(body))
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL, s.Client = srv.URL, srv.Client()
	return s
}

// realMirror is the MediaMTX release mirror, on the one platform it holds.
func realMirror(t *testing.T) string {
	t.Helper()
	if p, err := currentPlatform(); err != nil || p.key != "linux-x64" {
		t.Skipf("the MediaMTX mirror holds linux/amd64 only; this is %s/%s", p.os, p.arch)
	}
	return testutil.MediaMTXMirror(t)
}

// requireRuns runs bin --version and checks it prints the mirror's version.
func requireRuns(t *testing.T, bin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Fatalf("%s --version: %v, output %q, want %s", bin, err, out, version)
	}
}

func mirrorAssetSize(t *testing.T, mirror string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(mirror, version, "mediamtx_"+version+"_linux_amd64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestInstallDownloadsVerifiesAndRuns(t *testing.T) {
	mirror := realMirror(t)
	srv := serveMirror(t, mirror, nil)
	env := map[string]string{config.EnvEngineDownloadBaseURL: srv.URL + "/"}
	in, logs := newInstaller(t, env)
	in.Client = srv.Client

	bin, err := in.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(in.DataRuntimeDir, "streaming", "mediamtx", version, "linux-x64", "mediamtx")
	if bin != want {
		t.Errorf("installed at %s, want %s", bin, want)
	}
	requireRuns(t, bin)
	size := mirrorAssetSize(t, mirror)
	if p := in.Progress(); p != (Progress{Done: size, Total: size}) {
		t.Errorf("progress %+v, want done = total = %d, inactive, no error", p, size)
	}
	for _, line := range []string{"downloading MediaMTX", "MediaMTX installed"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("logs lack %q:\n%s", line, logs)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(bin))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{".lock", "mediamtx"}) {
		t.Errorf("install dir holds %v, want .lock and mediamtx only", names)
	}

	// Another Installer on the same data dir finds the cache without a request.
	before := srv.requests.Load()
	again := &Installer{Version: version, DataRuntimeDir: in.DataRuntimeDir, Getenv: in.Getenv, Client: srv.Client}
	for name, resolve := range map[string]func(context.Context) (string, error){"Resolve": again.Resolve, "Install": again.Install} {
		if got, err := resolve(context.Background()); err != nil || got != bin {
			t.Errorf("%s after the install: %q, %v; want %s", name, got, err, bin)
		}
	}
	if got := again.BinaryPath(); got != bin {
		t.Errorf("BinaryPath = %q, want %s", got, bin)
	}
	if n := srv.requests.Load() - before; n != 0 {
		t.Errorf("the cached binary cost %d HTTP requests, want 0", n)
	}
}

func TestInstallRefusesAnotherChecksum(t *testing.T) {
	mirror := realMirror(t)
	sums, err := os.ReadFile(filepath.Join(mirror, version, "checksums.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	asset := "mediamtx_" + version + "_linux_amd64.tar.gz"
	actual, err := checksumFor(sums, asset)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("ab", 32)
	srv := serveMirror(t, mirror, map[string]string{"/" + version + "/checksums.sha256": other + "  " + asset + "\n"})
	in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: srv.URL})
	in.Client = srv.Client

	_, err = in.Install(context.Background())
	if err == nil {
		t.Fatal("a download with another checksum was installed")
	}
	for _, want := range []string{"expected " + other, "got " + actual, config.EnvEnginePath, config.EnvEngineDownloadBaseURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	requireOnlyLock(t, installDirOf(t, in))
	if p := in.Progress(); p.Active || p.Err != err.Error() {
		t.Errorf("progress %+v after the refused download", p)
	}
	if _, err := in.Resolve(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Resolve after the refused download: %v, want ErrNotInstalled", err)
	}
}

func TestInstallFromFileURL(t *testing.T) {
	mirror := realMirror(t)
	in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: "file://" + filepath.ToSlash(mirror) + "/"})
	bin, err := in.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	requireRuns(t, bin)
	if size := mirrorAssetSize(t, mirror); in.Progress() != (Progress{Done: size, Total: size}) {
		t.Errorf("progress %+v, want done = total = %d", in.Progress(), size)
	}
}

func TestConcurrentInstallsDownloadOnce(t *testing.T) {
	mirror := realMirror(t)
	srv := serveMirror(t, mirror, nil)
	env := map[string]string{config.EnvEngineDownloadBaseURL: srv.URL}
	first, _ := newInstaller(t, env)
	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// Separate Installers: the lock is the install dir's, not an Installer's.
		in := &Installer{Version: version, DataRuntimeDir: first.DataRuntimeDir, Getenv: first.Getenv, Client: srv.Client}
		wg.Go(func() { paths[i], errs[i] = in.Install(context.Background()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("install %d: %q, %v; want %s", i, paths[i], errs[i], paths[0])
		}
	}
	if got := srv.assets.Load(); got != 1 {
		t.Errorf("%d concurrent installs downloaded the archive %d times, want once", n, got)
	}
	requireRuns(t, paths[0])
}

// fakeBinary is a script that stands in for mediamtx where only its path
// matters.
const fakeBinary = "#!/bin/sh\necho fake mediamtx\n"

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestEnginePath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "mediamtx")
	writeFile(t, bin, fakeBinary, 0o755)
	plain := filepath.Join(dir, "plain", "mediamtx")
	writeFile(t, plain, fakeBinary, 0o644)
	for _, c := range []struct {
		name, enginePath, want, wantErr string
	}{
		{name: "file", enginePath: bin, want: bin},
		{name: "directory", enginePath: filepath.Dir(bin), want: bin},
		{name: "missing file", enginePath: filepath.Join(dir, "nope", "mediamtx"), wantErr: "points to a missing MediaMTX binary"},
		{name: "directory without mediamtx", enginePath: dir, wantErr: "points to a missing MediaMTX binary"},
		{name: "not executable", enginePath: plain, wantErr: "not an executable file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A cached binary and a mirror are there, and neither is used.
			srv := serveMirror(t, t.TempDir(), nil)
			in, _ := newInstaller(t, map[string]string{config.EnvEnginePath: c.enginePath, config.EnvEngineDownloadBaseURL: srv.URL})
			in.Client = srv.Client
			cache := &Installer{Version: version, DataRuntimeDir: in.DataRuntimeDir, Getenv: noEnv}
			writeFile(t, filepath.Join(installDirOf(t, cache), "mediamtx"), fakeBinary, 0o755)
			for name, resolve := range map[string]func(context.Context) (string, error){"Resolve": in.Resolve, "Install": in.Install} {
				got, err := resolve(context.Background())
				switch {
				case c.wantErr == "" && (err != nil || got != c.want):
					t.Errorf("%s: %q, %v; want %s", name, got, err, c.want)
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), config.EnvEnginePath)):
					t.Errorf("%s: %q, %v; want an error naming %s: %s", name, got, err, config.EnvEnginePath, c.wantErr)
				}
			}
			if n := srv.requests.Load(); n != 0 {
				t.Errorf("%d HTTP requests with %s set, want 0", n, config.EnvEnginePath)
			}
		})
	}
}

func TestCacheDir(t *testing.T) {
	root := t.TempDir()
	in, _ := newInstaller(t, map[string]string{config.EnvEngineCacheDir: root})
	p, err := currentPlatform()
	if err != nil {
		t.Skip(err)
	}
	if got, want := installDirOf(t, in), filepath.Join(root, "streaming", "mediamtx", version, p.key); got != want {
		t.Errorf("install dir %s, want %s", got, want)
	}
	if _, err := in.Resolve(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Resolve of an empty cache: %v, want ErrNotInstalled", err)
	}
	if got := in.BinaryPath(); got != "" {
		t.Errorf("BinaryPath of an empty cache = %q", got)
	}
	for _, v := range []string{"", "..", "v1/../../x"} {
		bad := &Installer{Version: v, DataRuntimeDir: root, Getenv: noEnv}
		if _, err := bad.Resolve(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid MediaMTX version") {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

// entry is one member of a fake release archive.
type entry struct {
	name, body, link string
	typ              byte
	size             int64 // header size when not len(body): a truncated member
}

// fakeRelease writes a release of version for this platform under a new
// dir: the archive of entries and its checksums.sha256. It returns the dir
// and the archive's path.
func fakeRelease(t *testing.T, entries ...entry) (base, archive string) {
	t.Helper()
	p, err := currentPlatform()
	if err != nil {
		t.Skip(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o755, Size: int64(len(e.body))}
		if e.typ == tar.TypeSymlink {
			hdr.Size = 0
		}
		if e.size != 0 {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	_ = tw.Close() // fails for a truncated member, whose archive ends there
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	base = t.TempDir()
	asset := p.asset(version)
	archive = filepath.Join(base, version, asset)
	writeFile(t, archive, buf.String(), 0o644)
	sum := sha256.Sum256(buf.Bytes())
	writeFile(t, filepath.Join(base, version, "checksums.sha256"), "# fake release\n\n"+hex.EncodeToString(sum[:])+" *"+asset+"\n", 0o644)
	return base, archive
}

func fileURL(dir string) string { return "file://" + filepath.ToSlash(dir) }

func TestInstallPicksTheFirstRegularMediamtx(t *testing.T) {
	base, _ := fakeRelease(t,
		entry{name: "README.md", body: "read me", typ: tar.TypeReg},
		entry{name: "mediamtx", link: "/bin/sh", typ: tar.TypeSymlink},
		entry{name: "../../outside/mediamtx", body: fakeBinary, typ: tar.TypeReg},
		entry{name: "mediamtx", body: "the second one", typ: tar.TypeReg},
	)
	in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: fileURL(base)})
	dir := installDirOf(t, in)
	// Temp files of a killed download are removed.
	writeFile(t, filepath.Join(dir, ".download-123"), "partial", 0o644)
	writeFile(t, filepath.Join(dir, ".mediamtx-123.tmp"), "partial", 0o644)

	bin, err := in.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if body, err := os.ReadFile(bin); err != nil || string(body) != fakeBinary {
		t.Errorf("installed %q, %v; want the first regular mediamtx", body, err)
	}
	if st, err := os.Stat(bin); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("installed binary: %v, %v; want mode 0755", st, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("install dir holds %d entries, want .lock and mediamtx", len(entries))
	}
	if _, err := os.Stat(filepath.Join(in.DataRuntimeDir, "streaming", "mediamtx", "outside")); !os.IsNotExist(err) {
		t.Errorf("an archive member's name became a path: %v", err)
	}
}

func TestInstallFailuresLeaveNothing(t *testing.T) {
	flipped := func(t *testing.T, archive string) {
		b, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		writeFile(t, archive, string(b), 0o644)
	}
	noEntry := func(t *testing.T, archive string) {
		writeFile(t, filepath.Join(filepath.Dir(archive), "checksums.sha256"), strings.Repeat("0", 64)+"  other.tar.gz\n", 0o644)
	}
	for _, c := range []struct {
		name    string
		entries []entry
		spoil   func(t *testing.T, archive string)
		wantErr string
	}{
		{name: "flipped byte", entries: []entry{{name: "mediamtx", body: fakeBinary, typ: tar.TypeReg}}, spoil: flipped, wantErr: "checksum mismatch"},
		{name: "no checksum entry", entries: []entry{{name: "mediamtx", body: fakeBinary, typ: tar.TypeReg}}, spoil: noEntry, wantErr: "no entry for mediamtx_"},
		{name: "no binary", entries: []entry{{name: "LICENSE", body: "MIT", typ: tar.TypeReg}}, wantErr: "archive holds no mediamtx file"},
		{name: "binary too large", entries: []entry{{name: "mediamtx", body: "x", typ: tar.TypeReg, size: maxBinarySize + 1}}, wantErr: "more than"},
		{name: "truncated binary", entries: []entry{{name: "mediamtx", body: "x", typ: tar.TypeReg, size: 1000}}, wantErr: "extract mediamtx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, archive := fakeRelease(t, c.entries...)
			if c.spoil != nil {
				c.spoil(t, archive)
			}
			in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: fileURL(base)})
			_, err := in.Install(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), config.EnvEngineDownloadBaseURL+" to a mirror") {
				t.Fatalf("Install: %v; want an error with %q and what to do", err, c.wantErr)
			}
			requireOnlyLock(t, installDirOf(t, in))
		})
	}
	t.Run("http 404", func(t *testing.T) {
		srv := serveMirror(t, t.TempDir(), nil)
		in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: srv.URL})
		in.Client = srv.Client
		if _, err := in.Install(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("Install from an empty mirror: %v", err)
		}
		requireOnlyLock(t, installDirOf(t, in))
	})
	t.Run("unknown scheme", func(t *testing.T) {
		in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: "ftp://example.com"})
		if _, err := in.Install(context.Background()); err == nil || !strings.Contains(err.Error(), `scheme "ftp" not supported`) {
			t.Fatalf("Install from ftp: %v", err)
		}
	})
}

// TestProgressOfUnknownLength watches a download whose server sends no
// Content-Length and pauses halfway.
func TestProgressOfUnknownLength(t *testing.T) {
	base, archive := fakeRelease(t, entry{name: "mediamtx", body: strings.Repeat(fakeBinary, 1000), typ: tar.TypeReg})
	body, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	half := len(body) / 2
	resume := make(chan struct{})
	files := http.FileServer(http.Dir(base))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".tar.gz") {
			files.ServeHTTP(w, r)
			return
		}
		_, _ = w.Write(body[:half])
		w.(http.Flusher).Flush() // chunked: no Content-Length
		<-resume
		_, _ = w.Write(body[half:])
	}))
	defer srv.Close()
	in, _ := newInstaller(t, map[string]string{config.EnvEngineDownloadBaseURL: srv.URL})
	in.Client = srv.Client()

	done := make(chan error, 1)
	go func() {
		_, err := in.Install(context.Background())
		done <- err
	}()
	testutil.Eventually(t, 5*time.Second, "half the archive", func() bool {
		return in.Progress() == Progress{Done: int64(half), Total: -1, Active: true}
	})
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p, size := in.Progress(), int64(len(body)); p != (Progress{Done: size, Total: size}) {
		t.Errorf("progress %+v, want done = total = %d", p, size)
	}
}

func TestLockFileExcludesOtherOpenFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file stands in for another process.
	ctx, cancel := context.WithTimeout(context.Background(), 3*flockPoll)
	defer cancel()
	if _, err := lockFile(ctx, path); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: %v", err)
	}
	unlock()
	unlock2, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

func TestChecksumFor(t *testing.T) {
	const asset = "mediamtx_v1.20.1_linux_amd64.tar.gz"
	sum := strings.Repeat("0123456789abcdef", 4)
	for _, c := range []struct {
		name, sums, want, wantErr string
	}{
		{name: "two spaces", sums: sum + "  " + asset + "\n", want: sum},
		{name: "binary marker", sums: sum + " *" + asset, want: sum},
		{name: "upper case", sums: strings.ToUpper(sum) + "  " + asset, want: sum},
		{name: "comments, blanks and others", sums: "# list\n\n" + strings.Repeat("f", 64) + "  other.tar.gz\r\n" + sum + " *" + asset + "\r\n", want: sum},
		{name: "missing", sums: sum + "  other.tar.gz\n", wantErr: "no entry for " + asset},
		{name: "prefix of the name", sums: sum + "  " + asset + ".sig\n", wantErr: "no entry"},
		{name: "short digest", sums: sum[:63] + "  " + asset, wantErr: "not a SHA-256"},
		{name: "not hex", sums: "z" + sum[1:] + "  " + asset, wantErr: "not a SHA-256"},
		{name: "empty", sums: "", wantErr: "no entry"},
	} {
		got, err := checksumFor([]byte(c.sums), asset)
		if c.wantErr == "" && (err != nil || got != c.want) {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %q, %v; want an error with %q", c.name, got, err, c.wantErr)
		}
	}
}

func TestPlatformOf(t *testing.T) {
	for _, c := range []struct{ goos, goarch, key, asset string }{
		{"linux", "amd64", "linux-x64", "mediamtx_v1.20.1_linux_amd64.tar.gz"},
		{"linux", "arm64", "linux-arm64", "mediamtx_v1.20.1_linux_arm64.tar.gz"},
		{"darwin", "amd64", "darwin-x64", "mediamtx_v1.20.1_darwin_amd64.tar.gz"},
		{"darwin", "arm64", "darwin-arm64", "mediamtx_v1.20.1_darwin_arm64.tar.gz"},
		{"linux", "arm", "", ""},
		{"windows", "amd64", "", ""},
		{"freebsd", "arm64", "", ""},
	} {
		p, err := platformOf(c.goos, c.goarch)
		switch {
		case c.key == "" && (err == nil || !strings.Contains(err.Error(), "unsupported platform "+c.goos+"/"+c.goarch)):
			t.Errorf("%s/%s: %+v, %v; want unsupported", c.goos, c.goarch, p, err)
		case c.key != "" && (err != nil || p.key != c.key || p.asset("v1.20.1") != c.asset):
			t.Errorf("%s/%s: %+v, %v; want %s and %s", c.goos, c.goarch, p, err, c.key, c.asset)
		}
	}
	in := &Installer{}
	if p, err := currentPlatform(); err == nil && in.Platform() != p.key {
		t.Errorf("Platform() = %q, want %q", in.Platform(), p.key)
	}
}

package mediamtx

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
)

const (
	defaultDownloadBaseURL = "https://github.com/bluenviron/mediamtx/releases/download"
	userAgent              = "toposync-streaming"

	checksumsTimeout = 30 * time.Second
	assetTimeout     = 10 * time.Minute
	// stallTimeout ends a download that received nothing for that long,
	// long before assetTimeout would.
	stallTimeout = 30 * time.Second
	logEvery     = 2 * time.Second
	copyBuffer   = 256 << 10

	// Bounds on what a mirror can make us store.
	maxChecksumsSize = 1 << 20
	maxArchiveSize   = 1 << 30
	maxBinarySize    = 512 << 20
)

var errStalled = fmt.Errorf("no data received for %v", stallTimeout)

// download fetches the release archive into dir, verifies it against the
// release's checksums.sha256 and installs the binary from it. Whatever
// fails, it leaves no temp file behind.
func (in *Installer) download(ctx context.Context, dir string) error {
	p, err := currentPlatform()
	if err != nil {
		return err
	}
	asset := p.asset(in.Version)
	release := in.baseURL() + "/" + in.Version + "/"
	want, err := in.checksum(ctx, release+"checksums.sha256", asset)
	if err != nil {
		return err
	}
	archive, got, err := in.fetchArchive(ctx, release+asset, dir)
	if err != nil {
		return err
	}
	defer os.Remove(archive)
	if got != want {
		return fmt.Errorf("checksum mismatch for %s: expected %s, got %s (the download was deleted)", asset, want, got)
	}
	return extract(archive, dir)
}

func (in *Installer) baseURL() string {
	if b := strings.TrimRight(strings.TrimSpace(in.getenv(config.EnvEngineDownloadBaseURL)), "/"); b != "" {
		return b
	}
	return defaultDownloadBaseURL
}

// fetch opens an http(s) or file URL and returns its size, -1 if unknown.
func (in *Installer) fetch(ctx context.Context, rawURL string) (io.ReadCloser, int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, fmt.Errorf("bad download URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(filepath.FromSlash(u.Path))
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Accept", "*/*")
		resp, err := in.client().Do(req)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return nil, 0, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	}
	return nil, 0, fmt.Errorf("download URL %s: scheme %q not supported (use http, https or file)", rawURL, u.Scheme)
}

// checksum reads the release's checksum list and returns the asset's entry.
func (in *Installer) checksum(ctx context.Context, sumsURL, asset string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, checksumsTimeout)
	defer cancel()
	body, _, err := in.fetch(ctx, sumsURL)
	if err != nil {
		return "", err
	}
	defer body.Close()
	sums, err := io.ReadAll(io.LimitReader(body, maxChecksumsSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", sumsURL, err)
	}
	if len(sums) > maxChecksumsSize {
		return "", fmt.Errorf("%s is larger than %d bytes", sumsURL, maxChecksumsSize)
	}
	sum, err := checksumFor(sums, asset)
	if err != nil {
		return "", fmt.Errorf("%s: %w", sumsURL, err)
	}
	return sum, nil
}

// checksumFor finds asset in a sha256sum listing ("<hex>  name" or
// "<hex> *name" lines; blank and # lines skipped) and returns its
// lower-case hex digest.
func checksumFor(sums []byte, asset string) (string, error) {
	for line := range strings.Lines(string(sums)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, _ := strings.Cut(line, " ")
		if strings.TrimPrefix(strings.TrimSpace(name), "*") != asset {
			continue
		}
		sum = strings.ToLower(sum)
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 2*sha256.Size {
			return "", fmt.Errorf("the entry for %s is not a SHA-256 digest: %q", asset, sum)
		}
		return sum, nil
	}
	return "", fmt.Errorf("no entry for %s", asset)
}

// fetchArchive streams the archive into a temp file in dir while hashing
// it, and returns the file and its SHA-256.
func (in *Installer) fetchArchive(ctx context.Context, assetURL, dir string) (file, sum string, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, assetTimeout, fmt.Errorf("download took longer than %v", assetTimeout))
	defer cancel()
	ctx, stalled := context.WithCancelCause(ctx)
	defer stalled(nil)
	stall := time.AfterFunc(stallTimeout, func() { stalled(errStalled) })
	defer stall.Stop()

	body, total, err := in.fetch(ctx, assetURL)
	if err != nil {
		return "", "", err
	}
	defer body.Close()
	f, err := os.CreateTemp(dir, archiveTempPattern)
	if err != nil {
		return "", "", fmt.Errorf("create temp file: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()

	in.logger().Info("downloading MediaMTX", "url", assetURL, "bytes", total)
	in.setTotal(total)
	m := &meter{ctx: ctx, r: body, in: in, stall: stall, total: total, loggedAt: time.Now()}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(m, maxArchiveSize+1), make([]byte, copyBuffer))
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx) // the stall or the timeout, not "context canceled"
	}
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", assetURL, err)
	}
	if n > maxArchiveSize {
		return "", "", fmt.Errorf("download %s: larger than %d bytes", assetURL, maxArchiveSize)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	kept = true
	return f.Name(), hex.EncodeToString(h.Sum(nil)), nil
}

// meter passes a download through, counting it into the Installer's
// Progress, logging about every 10 % or 2 s and restarting the stall timer
// on every read.
type meter struct {
	ctx   context.Context
	r     io.Reader
	in    *Installer
	stall *time.Timer

	done, total, loggedDone int64
	loggedAt                time.Time
}

func (m *meter) Read(p []byte) (int, error) {
	// A file:// body does not watch the context itself.
	if m.ctx.Err() != nil {
		return 0, context.Cause(m.ctx)
	}
	n, err := m.r.Read(p)
	if n > 0 {
		m.stall.Reset(stallTimeout)
		m.done += int64(n)
		m.in.setDone(m.done)
		tenth := m.total > 0 && m.done*10/m.total > m.loggedDone*10/m.total
		if tenth || time.Since(m.loggedAt) >= logEvery {
			m.in.logger().Info("MediaMTX download progress", "done", m.done, "total", m.total)
			m.loggedDone, m.loggedAt = m.done, time.Now()
		}
	}
	return n, err
}

// extract installs the first regular file named mediamtx (in any folder of
// the archive) as dir/mediamtx. Entry names never become paths, so an
// archive cannot write outside dir.
func extract(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("archive is not a tar.gz: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("archive holds no %s file", binaryName)
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || path.Base(hdr.Name) != binaryName {
			continue
		}
		if hdr.Size > maxBinarySize {
			return fmt.Errorf("%s in the archive is %d bytes, more than %d", hdr.Name, hdr.Size, maxBinarySize)
		}
		return writeBinary(tr, dir)
	}
}

// writeBinary writes r to a temp file in dir and renames it to dir/mediamtx,
// so the binary is either whole or absent.
func writeBinary(r io.Reader, dir string) error {
	tmp, err := os.CreateTemp(dir, binaryTempPattern)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return fmt.Errorf("extract %s: %w", binaryName, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, binaryName)); err != nil {
		return err
	}
	renamed = true
	return nil
}

// The Installer's Progress through one download.

func (in *Installer) begin() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.progress = Progress{Total: -1, Active: true}
}

func (in *Installer) setTotal(total int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.progress.Total = total
}

func (in *Installer) setDone(done int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.progress.Done = done
}

// finish ends the download's Progress and logs its outcome.
func (in *Installer) finish(bin string, started time.Time, err error) {
	in.mu.Lock()
	in.progress.Active = false
	if err != nil {
		in.progress.Err = err.Error()
	} else {
		in.progress.Total = in.progress.Done
	}
	done := in.progress.Done
	in.mu.Unlock()
	if err != nil {
		in.logger().Warn("MediaMTX download failed", "error", err)
		return
	}
	in.logger().Info("MediaMTX installed", "path", bin, "bytes", done, "took", time.Since(started).Round(time.Millisecond))
}

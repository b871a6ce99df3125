package mediamtx

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The on-demand hook. MediaMTX runs a path's runOnDemand command when the
// first reader of an idle path arrives, holds the reader until a publisher
// appears (runOnDemandStartTimeout), and stops the command a while after
// the last reader left (runOnDemandCloseAfter). Our command is this binary
// in hook mode: it connects to the engine's Unix socket, names the path,
// and stays connected while MediaMTX keeps it running. An open connection
// is demand for its path. When the service cannot publish the path, it
// sends the hook "refused <reason>", which the hook prints: MediaMTX logs
// its command's output, so the reason is in MediaMTX's log. The socket lives in a directory only this user
// can enter, and the engine also checks the peer's uid, so no secret is
// needed on the command line.

// HookCommand is the subcommand of our binary that MediaMTX runs.
const HookCommand = "engine-hook"

// hookServer counts the hook connections of each path and calls changed
// when the first one arrives (held) or the last one leaves.
type hookServer struct {
	ln      net.Listener
	dir     string // removed on close when we made it
	log     *slog.Logger
	changed func(path string, held bool) // must not block

	mu    sync.Mutex
	count map[string]int
	conns map[net.Conn]string // the path each names ("" until it did)
	wg    sync.WaitGroup
}

// maxSocketPath keeps under the 108 bytes of sockaddr_un.
const maxSocketPath = 100

// listenHook opens the hook socket in runtimeDir, or in a private
// temporary directory when that path would be too long for a socket.
func listenHook(runtimeDir string, changed func(path string, held bool), log *slog.Logger) (*hookServer, error) {
	path := filepath.Join(runtimeDir, "mediamtx-hook.sock")
	made := ""
	if len(path) > maxSocketPath {
		sum := sha256.Sum256([]byte(runtimeDir))
		dir, err := os.MkdirTemp("", "toposync-hook-"+hex.EncodeToString(sum[:4])+"-")
		if err != nil {
			return nil, err
		}
		made, path = dir, filepath.Join(dir, "hook.sock")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(path) // a socket left by a killed service
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("on-demand hook socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &hookServer{ln: ln, dir: made, log: log, changed: changed, count: map[string]int{}, conns: map[net.Conn]string{}}
	h.wg.Go(h.accept)
	return h, nil
}

func (h *hookServer) path() string { return h.ln.Addr().String() }

func (h *hookServer) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		if !sameUser(c) {
			h.log.Warn("on-demand hook connection from another user refused")
			_ = c.Close()
			continue
		}
		h.mu.Lock()
		h.conns[c] = ""
		h.mu.Unlock()
		h.wg.Go(func() { h.serve(c) })
	}
}

// serve reads the path a hook names, then holds the demand until the hook
// disconnects.
func (h *hookServer) serve(c net.Conn) {
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		_ = c.Close()
	}()
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	path, ok := strings.CutPrefix(strings.TrimSpace(line), "demand ")
	if err != nil || !ok || path == "" {
		return
	}
	h.mu.Lock()
	h.conns[c] = path
	h.mu.Unlock()
	h.change(path, +1)
	defer h.change(path, -1)
	_, _ = io.Copy(io.Discard, c) // until the hook ends
}

func (h *hookServer) change(path string, delta int) {
	h.mu.Lock()
	before := h.count[path]
	h.count[path] += delta
	after := h.count[path]
	if after == 0 {
		delete(h.count, path)
	}
	h.mu.Unlock()
	if (before == 0) != (after == 0) {
		h.changed(path, after > 0)
	}
}

// refuse tells the hooks of path why the service cannot publish it, and
// waits (up to a second) for them to print it and exit, so the reason is in
// MediaMTX's log before the path is removed.
func (h *hookServer) refuse(path, reason string) {
	line := "refused " + strings.Join(strings.Fields(reason), " ") + "\n"
	h.mu.Lock()
	for c, p := range h.conns {
		if p == path {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, line)
		}
	}
	h.mu.Unlock()
	for deadline := time.Now().Add(time.Second); h.demanded(path) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// demanded reports whether a hook holds path.
func (h *hookServer) demanded(path string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[path] > 0
}

// close stops accepting, ends every hook connection and waits.
func (h *hookServer) close() {
	_ = h.ln.Close()
	h.mu.Lock()
	for c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
	if h.dir != "" {
		_ = os.RemoveAll(h.dir)
	}
}

// sameUser reports whether the peer of a Unix connection runs as our uid.
func sameUser(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid()
}

// RunHook is the hook mode of our binary: "engine-hook --socket PATH", with
// MTX_PATH (set by MediaMTX) naming the path. It holds the demand until
// MediaMTX stops it (SIGINT/SIGTERM) or the service goes away.
func RunHook(args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "--socket" {
		fmt.Fprintf(stderr, "usage: toposync-streaming %s --socket PATH (run by MediaMTX, with MTX_PATH set)\n", HookCommand)
		return 2
	}
	path := getenv("MTX_PATH")
	if path == "" || strings.ContainsAny(path, "\r\n") {
		fmt.Fprintln(stderr, "MTX_PATH is not set: this command is run by MediaMTX's runOnDemand")
		return 2
	}
	c, err := net.Dial("unix", args[1])
	if err != nil {
		fmt.Fprintf(stderr, "cannot reach the streaming service: %v\n", err)
		return 1
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "demand %s\n", path); err != nil {
		fmt.Fprintf(stderr, "cannot reach the streaming service: %v\n", err)
		return 1
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	gone := make(chan error, 1)
	go func() {
		// The service speaks only to refuse the path: we print why, for
		// MediaMTX's log, and end.
		lines := bufio.NewScanner(c)
		for lines.Scan() {
			if why, ok := strings.CutPrefix(lines.Text(), "refused "); ok {
				fmt.Fprintf(stderr, "toposync-streaming cannot publish path %s: %s\n", path, why)
				gone <- nil
				return
			}
		}
		gone <- lines.Err()
	}()
	select {
	case <-stop:
		return 0
	case err := <-gone:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(stderr, "the streaming service went away: %v\n", err)
		}
		return 1
	}
}

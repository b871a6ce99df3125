//go:build unix

package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on the data dir so two services never
// write one settings file. The kernel drops it when the process dies.
func lockDir(dataDir string) (*os.File, error) {
	path := filepath.Join(dataDir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another toposync-streaming process; stop it or choose another --data-dir", dataDir)
	}
	return f, nil
}

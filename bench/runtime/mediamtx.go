package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// startMediaMTX runs a standalone MediaMTX with config conf in dir until
// ctx ends: TOPOSYNC_STREAMING_ENGINE_PATH when set, else the binary
// extracted from the -mediamtx-mirror release archive.
func startMediaMTX(ctx context.Context, o options, dir, conf string) (*exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin := os.Getenv("TOPOSYNC_STREAMING_ENGINE_PATH")
	if bin == "" {
		archives, _ := filepath.Glob(filepath.Join(o.mirror, "*", "mediamtx_*_linux_amd64.tar.gz"))
		if len(archives) == 0 {
			return nil, fmt.Errorf("no MediaMTX archive under -mediamtx-mirror %q and TOPOSYNC_STREAMING_ENGINE_PATH is not set", o.mirror)
		}
		if out, err := exec.Command("tar", "-xzf", archives[0], "-C", dir, "mediamtx").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("extract MediaMTX: %v: %s", err, out)
		}
		bin = filepath.Join(dir, "mediamtx")
	}
	confPath := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	mtx := exec.CommandContext(ctx, bin, confPath)
	logF, err := os.Create(filepath.Join(dir, "mediamtx.log"))
	if err != nil {
		return nil, err
	}
	mtx.Stdout, mtx.Stderr = logF, logF
	if err := mtx.Start(); err != nil {
		logF.Close()
		return nil, err
	}
	return mtx, nil
}

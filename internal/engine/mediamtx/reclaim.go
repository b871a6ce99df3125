package mediamtx

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// strays lists MediaMTX processes other than except whose command line
// names configPath: started for this data dir and not managed now (a
// service that was killed leaves its MediaMTX running, since children run
// in their own process group).
func strays(configPath string, except int) []int {
	entries, _ := os.ReadDir("/proc")
	out := []int{}
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == except || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) >= 2 && filepath.Base(args[0]) == "mediamtx" && slices.Contains(args[1:], configPath) {
			out = append(out, pid)
		}
	}
	return out
}

// reclaim stops the strays of configPath: SIGTERM, then SIGKILL for those
// still alive after grace. The data dir's lock guarantees no other service
// uses this config, so they are ours. It returns the pids it stopped.
func reclaim(configPath string, except int, grace time.Duration) []int {
	pids := strays(configPath, except)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return pids
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := strings.LastIndexByte(string(raw), ')'); i >= 0 && i+2 < len(raw) {
		return raw[i+2] != 'Z'
	}
	return true
}

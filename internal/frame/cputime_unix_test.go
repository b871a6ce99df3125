//go:build unix

package frame

import "syscall"

// cpuNanos is the CPU time (user and system) the process has used: on a
// machine shared with other work, a benchmark's CPU time per op moves much
// less than its wall time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

//go:build !linux

package publisher

import "syscall"

// procAttr puts a child in its own process group (a signal to us does not
// reach it first). Without Linux's parent-death signal a child can outlive
// a service that is killed; the MediaMTX engine reclaims its strays.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

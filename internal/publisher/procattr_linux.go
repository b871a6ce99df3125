package publisher

import "syscall"

// procAttr puts a child in its own process group (a signal to us does not
// reach it first) and has the kernel kill it when the service dies, even
// by SIGKILL: a supervised program never outlives its supervisor.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

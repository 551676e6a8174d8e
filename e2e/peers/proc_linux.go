package peers

import "syscall"

// ChildAttrs makes the kernel kill a test's child process if the test binary
// dies without running its cleanups.
func ChildAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package sessiontest

import "syscall"

// childAttrs makes the kernel kill a test's redis-server if the test binary
// dies without running its cleanups.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

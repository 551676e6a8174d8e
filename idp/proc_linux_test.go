package idp_test

import "syscall"

// childAttrs makes the kernel kill a test's node process if the test binary
// dies without running its cleanups.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

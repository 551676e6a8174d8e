//go:build !linux

package idp_test

import "syscall"

// childAttrs has nothing to add outside Linux; cleanups stop the processes.
func childAttrs() *syscall.SysProcAttr { return nil }

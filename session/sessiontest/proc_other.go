//go:build !linux

package sessiontest

import "syscall"

// childAttrs has nothing to add outside Linux; cleanups stop the servers.
func childAttrs() *syscall.SysProcAttr { return nil }

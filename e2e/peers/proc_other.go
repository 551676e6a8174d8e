//go:build !linux

package peers

import "syscall"

// ChildAttrs has nothing to add outside Linux; cleanups stop the processes.
func ChildAttrs() *syscall.SysProcAttr { return nil }

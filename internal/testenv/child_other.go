//go:build !linux

package testenv

import "os/exec"

// DieWithParent is a no-op where the kernel cannot tie a child's life to
// its parent's; cleanups still stop helpers on ordinary exits.
func DieWithParent(cmd *exec.Cmd) {}

// Kill ends a helper process and reaps it.
func Kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

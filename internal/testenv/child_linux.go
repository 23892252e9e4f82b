//go:build linux

package testenv

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes a helper process (moto, the runtime emulator) end
// when the test process ends, however it ends: a panic or a -timeout kill
// skips every cleanup, and the helper would otherwise outlive the run. The
// helper also gets a process group of its own, so that Kill ends whatever
// it started too (the emulator's runtime).
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}

// Kill ends a helper started with DieWithParent and every process in its
// group, and reaps it.
func Kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

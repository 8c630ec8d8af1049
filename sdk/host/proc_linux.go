package host

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel send the plugin SIGTERM when the host
// thread that started it exits, whatever ends the host (SIGKILL, SIGPIPE,
// a crash). Go's runtime does not end its threads while the process
// lives, except threads locked by a goroutine that exits locked, which
// never start plugins here. Plugins built with sdk/plugin also watch
// their parent themselves.
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}

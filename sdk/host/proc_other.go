//go:build !linux

package host

import "os/exec"

// setParentDeath does nothing where there is no parent-death signal;
// plugins built with sdk/plugin still watch their parent.
func setParentDeath(*exec.Cmd) {}

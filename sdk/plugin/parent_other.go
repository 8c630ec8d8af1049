//go:build !linux

package plugin

import "syscall"

// parentDeathSignal is the signal Serve treats as the host's death.
var parentDeathSignal = syscall.SIGTERM

// armParentDeath does nothing where there is no parent-death signal: the
// parent watch alone ends the plugin.
func armParentDeath() {}

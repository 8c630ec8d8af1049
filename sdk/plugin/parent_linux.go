package plugin

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal asks the kernel for sig when the process that
// started this one ends. The setting belongs to the calling thread, so
// the goroutine locks its thread and keeps it for the life of the
// process. It returns once the setting is made.
func setParentDeathSignal(sig unix.Signal) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0)
		close(done)
		select {} // keep the thread, and with it the setting
	}()
	<-done
}

// parentDeathSignal is the signal the kernel sends when the host dies;
// Serve catches it to remove the socket before exiting.
var parentDeathSignal os.Signal = unix.SIGTERM

func armParentDeath() { setParentDeathSignal(unix.SIGTERM) }

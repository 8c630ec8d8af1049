package plugin

import (
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	goplugin "github.com/hashicorp/go-plugin"
)

// parentPoll is how often a plugin checks that its host still runs.
const parentPoll = 200 * time.Millisecond

// guardParent makes the plugin exit when its host ends, however it ends:
// the kernel's parent-death signal (Linux), a watch on the parent process
// id, and SIGPIPE from writing to a host that is gone. Before exiting it
// removes its Unix socket and, once they are empty, the socket folders a
// gozoo host made for it. exit is os.Exit outside tests.
func guardParent(exit func(int)) {
	ppid := os.Getppid()
	armParentDeath()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, parentDeathSignal, syscall.SIGPIPE)
	gone := func() bool { return os.Getppid() != ppid }
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for {
			hostGone := false
			select {
			case <-sigs:
				// The kernel moves a process's threads to their new
				// parent one by one while it signals them, so this
				// thread may still see the old parent for a moment.
				for i := 0; i < 20 && !hostGone; i++ {
					if hostGone = gone(); !hostGone {
						time.Sleep(5 * time.Millisecond)
					}
				}
			case <-t.C:
				if hostGone = gone(); !hostGone {
					continue
				}
			}
			removeSocket(os.Getenv(goplugin.EnvUnixSocketDir), hostGone)
			exit(1)
			return
		}
	}()
	if gone() || ppid == 1 {
		// The host ended before the signal was armed.
		removeSocket(os.Getenv(goplugin.EnvUnixSocketDir), true)
		exit(1)
	}
}

// removeSocket removes the Unix sockets in dir when dir is a per-plugin
// folder made by a gozoo host (its parent is named
// backbonev1.SocketDirPrefix...), and, when the host is gone, dir and its
// parent once they are empty. Folders of other hosts are left alone.
func removeSocket(dir string, hostGone bool) {
	if dir == "" || !filepath.IsAbs(dir) {
		return
	}
	parent := filepath.Dir(dir)
	if !strings.HasPrefix(filepath.Base(parent), backbonev1.SocketDirPrefix) {
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if hostGone {
		os.Remove(dir)    // fails unless empty
		os.Remove(parent) // fails while other plugins' folders remain
	}
}

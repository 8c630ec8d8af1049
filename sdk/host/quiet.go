package host

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// stoppedPIDs remembers the plugin processes the host killed on purpose
// (one that did not exit within killGrace of being asked to, or every
// plugin on Client.Kill), so that go-plugin's "plugin process exited"
// error for them, which would read as a crash, is not logged. A plugin
// that dies by itself is still logged. It is safe for concurrent use.
type stoppedPIDs struct {
	mu   sync.Mutex
	pids map[string]bool
}

// mark records that the host is about to kill pid.
func (s *stoppedPIDs) mark(pid int) {
	if s == nil || pid <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pids == nil {
		s.pids = map[string]bool{}
	}
	s.pids[fmt.Sprint(pid)] = true
}

// exclude is an hclog Exclude function: it drops go-plugin's exit error
// for a process the host killed.
func (s *stoppedPIDs) exclude(level hclog.Level, msg string, args ...any) bool {
	if s == nil || msg != "plugin process exited" {
		return false
	}
	id, failed := "", false
	for i := 0; i+1 < len(args); i += 2 {
		switch k, _ := args[i].(string); k {
		case "id":
			id = fmt.Sprint(args[i+1])
		case "error":
			failed = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pids[id] {
		return false
	}
	delete(s.pids, id)
	return failed // a clean exit is still logged (at Info)
}

package host

import (
	"strings"
	"sync"
)

// Bounds on the part of a plugin's stderr that a failed start reports.
const (
	tailLines = 20
	tailBytes = 2 << 10
)

// stderrTail keeps the end of what a plugin process writes on stderr, so
// that a failed start can say what the plugin said (a traceback, "socket
// path too long") rather than only that no handshake came.
type stderrTail struct {
	mu  sync.Mutex
	buf []byte
}

// Write keeps the last bytes of p; it never fails.
func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

// String returns the last tailLines lines, at most tailBytes, without
// blank lines at either end; "" when the plugin printed nothing.
func (t *stderrTail) String() string {
	t.mu.Lock()
	b := string(t.buf)
	t.mu.Unlock()
	cut := len(b) > tailBytes
	if cut {
		b = b[len(b)-tailBytes:]
		if i := strings.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:] // drop the partial first line
		}
	}
	lines := strings.Split(strings.Trim(b, "\r\n"), "\n")
	if len(lines) > tailLines {
		lines, cut = lines[len(lines)-tailLines:], true
	}
	s := strings.TrimSpace(strings.Join(lines, "\n"))
	if s == "" {
		return ""
	}
	if cut {
		s = "...\n" + s
	}
	return s
}

// explain adds the plugin's stderr tail, if any, to the text of a failed
// start.
func (t *stderrTail) explain(msg string) string {
	if t == nil {
		return msg
	}
	s := t.String()
	if s == "" {
		return msg + " (the plugin printed nothing on stderr)"
	}
	return msg + "; the plugin's stderr ends with:\n    " + strings.ReplaceAll(s, "\n", "\n    ")
}

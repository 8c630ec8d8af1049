package host

import "time"

// TensorFiles reports c's tensor folder ("" before first use or after
// Close) and how many inputs and outputs have passed through it as files.
func TensorFiles(c *Client) (dir string, in, out int64) {
	c.files.mu.Lock()
	dir = c.files.dir
	c.files.mu.Unlock()
	return dir, c.files.in.Load(), c.files.out.Load()
}

// SetFailureRetry changes how long discovery skips a plugin whose start
// failed, until the test ends.
func SetFailureRetry(t interface{ Cleanup(func()) }, d time.Duration) {
	old := failureRetry
	failureRetry = d
	t.Cleanup(func() { failureRetry = old })
}

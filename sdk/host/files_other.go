//go:build !unix

package host

// sweepStale does nothing where process ids cannot be checked; folders a
// killed host left behind stay until the system clears them.
func sweepStale(string) {}

// createFlags: O_EXCL alone refuses an existing file or link.
const createFlags = 0

//go:build !unix

package host

import "os"

// sweepStale does nothing where process ids cannot be checked; folders a
// killed host left behind stay until the system clears them.
func sweepStale(_, _ string) {}

// ownedByMe cannot tell a file's owner here: it says no.
func ownedByMe(os.FileInfo) bool { return false }

// createFlags: O_EXCL alone refuses an existing file or link.
const createFlags = 0

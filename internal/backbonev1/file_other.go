//go:build !unix

package backbonev1

// openFlags: without O_NOFOLLOW the regular-file check after opening is
// the only guard.
const openFlags = 0

// createFlags: O_EXCL alone refuses an existing file or link.
const createFlags = 0

//go:build unix

package backbonev1

import "syscall"

// openFlags make opening a tensor file fail on a final symbolic link and
// return at once on a named pipe (which the regular-file check refuses).
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// createFlags make creating a tensor file fail on a final symbolic link.
const createFlags = syscall.O_NOFOLLOW

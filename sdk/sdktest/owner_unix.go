//go:build unix

package sdktest

import (
	"os"
	"syscall"
)

// owner returns the uid that owns the file fi describes.
func owner(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

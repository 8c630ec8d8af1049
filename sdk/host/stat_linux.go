package host

import (
	"os"
	"syscall"
	"time"
)

// statOf returns the identity of a file's content (see fileStat).
func statOf(fi os.FileInfo) fileStat {
	st := fileStat{Size: fi.Size(), ModNS: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ChangeNS = time.Unix(int64(sys.Ctim.Sec), int64(sys.Ctim.Nsec)).UnixNano()
		st.Inode, st.Device = uint64(sys.Ino), uint64(sys.Dev)
	}
	return st
}

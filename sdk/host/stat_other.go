//go:build !linux

package host

import "os"

// statOf returns the identity of a file's content (see fileStat): size
// and modification time only, where the change time and inode are not
// read.
func statOf(fi os.FileInfo) fileStat {
	return fileStat{Size: fi.Size(), ModNS: fi.ModTime().UnixNano()}
}

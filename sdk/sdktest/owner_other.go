//go:build !unix

package sdktest

import "os"

// owner returns -1: files have no uid here.
func owner(fi os.FileInfo) int { return -1 }

//go:build unix

package host

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestSweepStale(t *testing.T) {
	base := t.TempDir()
	dead := filepath.Join(base, filesDirPrefix+"999999999-1") // no such process
	live := filepath.Join(base, fmt.Sprintf("%s%d-2", filesDirPrefix, os.Getppid()))
	mine := filepath.Join(base, fmt.Sprintf("%s%d-3", filesDirPrefix, os.Getpid()))
	other := filepath.Join(base, "gozoo-hostile-1-1")
	for _, d := range []string{dead, live, mine, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "in-1"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sweepStale(base, filesDirPrefix)
	for _, tt := range []struct {
		dir  string
		want bool
	}{{dead, false}, {live, true}, {mine, true}, {other, true}} {
		_, err := os.Stat(tt.dir)
		if got := err == nil; got != tt.want {
			t.Errorf("after sweepStale %s exists = %v; want %v", filepath.Base(tt.dir), got, tt.want)
		}
	}
}

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestAbsurdSizesRefused runs extract with thread counts and options that
// would exhaust the plugin: each is refused with an error naming the flag
// or option and its limit, and leaves no partial output.
func TestAbsurdSizesRefused(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	writeImage(t, filepath.Join(dir, "imgs", "a.png"), 40, 40, 1)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"100000 threads", []string{"--threads", "100000"}, 2,
			[]string{"--threads 100000", fmt.Sprintf("up to %d", ort.MaxThreads())}},
		{"negative threads", []string{"--threads", "-1"}, 2, []string{"--threads -1"}},
		{"1e11 classes", []string{"--opt", "num_classes=100000000000"}, 1,
			[]string{"with options num_classes=100000000000,width=8", "over the limit of 2147483648 (2^31) per tensor"}},
		{"1e11 classes by flag", []string{"--num-classes", "100000000000"}, 1,
			[]string{"with options num_classes=100000000000,width=8", "fc.weight"}},
		{"wide", []string{"--opt", "width=4096"}, 1,
			[]string{"with options width=4096", "over the limit of 536870912 per model", "GOZOO_MAX_PARAMS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"extract", "--arch", "resnet18", "--layers", "avgpool", "--resize", "36", "--crop", "32", "--out", "f.npz"}
			if !strings.Contains(strings.Join(tc.args, " "), "width") {
				args = append(args, "--opt", "width=8")
			}
			stderr, code := userRun(t, dir, append(append(args, tc.args...), "imgs")...)
			if code != tc.code {
				t.Fatalf("exit %d; want %d:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "crashed") {
				t.Errorf("the plugin crashed:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "f.npz.partial")); err == nil {
				t.Error("f.npz.partial left behind")
			}
		})
	}
}

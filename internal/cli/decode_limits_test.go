package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestExtractPipeAndHugeImage puts a named pipe called pipe.jpg and an
// image over the decoding budget in an image folder: extract refuses
// each by name and says what to do, never blocks on the pipe, and with
// --on-error skip records both and extracts the rest.
func TestExtractPipeAndHugeImage(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	for i := 0; i < 3; i++ {
		writeImage(t, filepath.Join(dir, "imgs", "a"+string(rune('0'+i))+".png"), 40, 40, int64(i))
	}
	writeImage(t, filepath.Join(dir, "imgs", "big.png"), 1000, 800, 9)
	if err := syscall.Mkfifo(filepath.Join(dir, "imgs", "pipe.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"extract", "--arch", "resnet18", "--opt", "width=8", "--resize", "36", "--crop", "32", "--layers", "avgpool"}
	stderr, code := userRun(t, dir, append(args, "--out", "f.npz", "imgs")...)
	if code != 1 || !strings.Contains(stderr, "pipe.jpg") || !strings.Contains(stderr, "named pipe") ||
		!strings.Contains(stderr, "only regular files are read") {
		t.Fatalf("extract over a folder with a pipe: exit %d; want 1 naming pipe.jpg as a named pipe:\n%s", code, stderr)
	}
	stderr, code = userRun(t, dir, append(args, "--decode-memory", "4MiB", "--on-error", "skip", "--out", "g.npz", "imgs")...)
	if code != 0 {
		t.Fatalf("--on-error skip: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"skip " + filepath.Join("imgs", "big.png") + ": 1000x800 png", "raise --decode-memory (now 4MiB)", "skip " + filepath.Join("imgs", "pipe.jpg"), "wrote g.npz: 3 rows"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	stderr, code = userRun(t, dir, append(args, "--decode-memory", "lots", "--out", "h.npz", "imgs")...)
	if code != 2 || !strings.Contains(stderr, `--decode-memory "lots"`) {
		t.Errorf("--decode-memory lots: exit %d; want a usage error:\n%s", code, stderr)
	}
}

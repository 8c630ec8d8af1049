package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo/imageproc"
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

// BenchmarkDecodeMemory measures the peak RSS of gozoo extract over four
// 6000x6000 PNGs on 4 workers, with the decoding budget out of the way
// (64GiB: every image decodes at once, as before the budget existed) and
// with a 400MiB budget (one at a time), and reports both and their ratio.
//
//	go test ./internal/cli -run '^$' -bench DecodeMemory -benchtime 1x
func BenchmarkDecodeMemory(b *testing.B) {
	testenv.ORT(b, ort.LibraryPath())
	dir := b.TempDir()
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	big := filepath.Join(dir, "imgs", "a0.png")
	writeImage(b, big, 6000, 6000, 1)
	data, _ := os.ReadFile(big)
	for i := 1; i < 4; i++ {
		os.WriteFile(filepath.Join(dir, "imgs", "a"+string(rune('0'+i))+".png"), data, 0o644)
	}
	peak := func(budget, workers string) float64 {
		cmd := exec.Command(gozooBinary(b), "extract", "--arch", "resnet18", "--opt", "width=8", "--resize", "36", "--crop", "32",
			"--layers", "avgpool", "--workers", workers, "--batch-size", "4", "--decode-memory", budget, "--out", "f.npz", "imgs")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOZOO_PLUGIN_PATH="+testenv.BuildPlugin(b, "resnet"))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("extract --decode-memory %s: %v\n%s", budget, err, out)
		}
		os.Remove(filepath.Join(dir, "f.npz"))
		return float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
	}
	var unbounded, bounded, serial float64
	for i := 0; i < b.N; i++ {
		unbounded = peak("64GiB", "4")
		bounded = peak("400MiB", "4")
		serial = peak("64GiB", "1")
	}
	b.ReportMetric(unbounded, "MiB-peak-unbounded")
	b.ReportMetric(bounded, "MiB-peak-400MiB")
	b.ReportMetric(serial, "MiB-peak-1-worker")
	b.ReportMetric(unbounded/bounded, "ratio")
	b.Logf("4 x %s PNG of 6000x6000 (estimated decoding cost %s each)", imageproc.FormatBytes(int64(len(data))),
		imageproc.FormatBytes(int64(len(data))+6000*6000*10))
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"2GiB", 2 << 30}, {"512MiB", 512 << 20}, {"1.5GB", 1_500_000_000}, {"1000000", 1_000_000},
		{"64 KiB", 64 << 10}, {"3G", 3 << 30}, {"10B", 10},
		{"", 0}, {"lots", 0}, {"-1GiB", 0}, {"0", 0}, {"1e30GiB", 0}, {"NaN", 0}, {"Inf", 0},
	} {
		got, err := parseBytes(tc.in)
		if (err != nil) != (tc.want == 0) || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

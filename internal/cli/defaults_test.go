package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

// TestExtractImagesPrintsDefaults runs gozoo extract on a folder of
// images as a user types it, and checks that every default it picks is
// printed before the run: the model, its layer, its plugin and why, and
// the preprocessing with where it came from.
func TestExtractImagesPrintsDefaults(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_CACHE", t.TempDir())     // the embedded model unpacks offline
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no user catalog
	for _, tc := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{{
		name: "embedded model",
		args: []string{"extract", "--offline", "--out", "f.npz", "photos"},
		want: []string{
			"using the embedded " + zoo.DefaultModel,
			"layers: avgpool (the model's default",
			"transform: Grayscale(3) Resize(28, bilinear) CenterCrop(28)",
			"resnet18: plugin resnet (named by " + zoo.DefaultModel,
		},
		not: []string{"asked for by name"},
	}, {
		name: "arch",
		args: []string{"extract", "--arch", "resnet18", "--layers", "fc", "--out", "f.npz", "photos"},
		want: []string{
			"transform: Resize(256, bilinear) CenterCrop(224) Normalize(mean=[0.485 0.456 0.406], std=[0.229 0.224 0.225]) (torchvision's ImageNet eval transform",
			"resnet18: plugin resnet (native",
		},
		not: []string{"changed by"},
	}, {
		name: "arch and crop",
		args: []string{"extract", "--arch", "resnet18", "--layers", "fc", "--crop", "112", "--out", "f.npz", "photos"},
		want: []string{"transform: Resize(256, bilinear) CenterCrop(112)", "changed by --crop"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "photos"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeImage(t, filepath.Join(dir, "photos", "a.png"), 40, 30, 1)
			writeImage(t, filepath.Join(dir, "photos", "b.jpg"), 33, 47, 2)
			stderr, code := userRun(t, dir, tc.args...)
			if code != 0 {
				t.Fatalf("gozoo %s: exit %d\n%s", strings.Join(tc.args, " "), code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("gozoo %s: stderr lacks %q:\n%s", strings.Join(tc.args, " "), w, stderr)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(stderr, n) {
					t.Errorf("gozoo %s: stderr says %q:\n%s", strings.Join(tc.args, " "), n, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "f.npz")); err != nil {
				t.Errorf("no output: %v", err)
			}
		})
	}
}

// TestExtractSequenceMajorRows runs gozoo extract on sequence-major input
// ([T, N, F] with batch_first=false) as a user types it: the summary
// counts the N sequences, not the T steps.
func TestExtractSequenceMajorRows(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_PLUGIN_PATH", testenv.BuildPlugin(t, "lstm"))
	dir := t.TempDir()
	seqs := sdk.Zeros(10, 3, 8) // T=10 steps of N=3 sequences
	for i := range seqs.Float32 {
		seqs.Float32[i] = float32(i%7) / 7
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, seqs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seqs.npy"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gozoo(t), "extract", "--arch", "lstm", "--opt", "batch_first=false",
		"--layers", "lstm,last", "--out", "f.npz", "seqs.npy")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gozoo extract: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "wrote f.npz: 3 rows,") {
		t.Errorf("gozoo extract on [10, 3, 8] with batch_first=false; want the summary to count 3 rows:\n%s", out)
	}
	got := readLayers(t, filepath.Join(dir, "f.npz"), "lstm", "last")
	if want := []int64{10, 3, 16}; !slices.Equal(got["lstm"].Shape, want) {
		t.Errorf("lstm shape %v; want PyTorch's %v", got["lstm"].Shape, want)
	}
	if want := []int64{3, 16}; !slices.Equal(got["last"].Shape, want) {
		t.Errorf("last shape %v; want %v", got["last"].Shape, want)
	}
}

// TestUnknownArchSuggestsOnce runs gozoo layers with a mistyped arch that
// two plugins offer: the suggestion names it once.
func TestUnknownArchSuggestsOnce(t *testing.T) {
	toy := toyPlugin(t)
	plugins := t.TempDir()
	if err := os.Symlink(toy, filepath.Join(plugins, "gozoo-backbone-toy")); err != nil {
		t.Fatal(err)
	}
	man := fmt.Sprintf(`{"command": [%q]}`, toy)
	if err := os.WriteFile(filepath.Join(plugins, "gozoo-backbone-atoy.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gozoo(t), "layers", "toi")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOZOO_PLUGIN_PATH="+plugins, "GOZOO_CACHE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gozoo layers toi succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), `did you mean toy?`) {
		t.Errorf("gozoo layers toi; want the suggestion \"did you mean toy?\" naming toy once:\n%s", out)
	}
}

// TestInterruptImagesSaysWhatIsKept interrupts an image extract (SIGINT,
// as Ctrl-C sends) once some rows are committed: gozoo says how many are
// kept where and that a rerun resumes, and the rerun does.
func TestInterruptImagesSaysWhatIsKept(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "photos"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 150
	for i := range n {
		writeImage(t, filepath.Join(dir, "photos", fmt.Sprintf("%03d.png", i)), 40, 30, int64(i))
	}
	args := []string{"extract", "--arch", "resnet18", "--layers", "avgpool", "--batch-size", "1", "--out", "f.npz", "photos"}
	cmd := exec.Command(gozoo(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOZOO_PLUGIN_PATH="+testenv.BuildPlugin(t, "resnet"), "GOZOO_CACHE="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(2 * time.Minute)
	for chunks(t, filepath.Join(dir, "f.npz.partial")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no row committed within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("gozoo extract after SIGINT: %v; want exit 130\n%s", err, stderr.String())
	}
	re := regexp.MustCompile(`kept (\d+) of 150 images \(\d+ rows\) in f\.npz\.partial: rerun the same command to resume`)
	m := re.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("gozoo extract after SIGINT does not say what is kept:\n%s", stderr.String())
	}
	rerun, code := userRun(t, dir, args...)
	if code != 0 || !strings.Contains(rerun, "resuming f.npz: "+m[1]+" of 150 images already done") {
		t.Errorf("rerun: exit %d; want it to resume at %s:\n%s", code, m[1], rerun)
	}
}

// TestBridgeImportRefusesWeights runs gozoo bridge import with --weights,
// which the shared model flags offer but import would ignore: it is
// refused, naming the checkpoint import reads, and nothing is written.
func TestBridgeImportRefusesWeights(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.pth", "b.pth"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("not read"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gozoo(t), "bridge", "import", "a.pth", "--arch", "resnet18", "--weights", "b.pth", "--catalog", "c.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("bridge import --weights: %v; want usage error (exit 2)\n%s", err, out)
	}
	if !strings.Contains(string(out), "bridge import reads the checkpoint it is given (a.pth); drop --weights") {
		t.Errorf("bridge import --weights says:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.yaml")); err == nil {
		t.Errorf("bridge import --weights wrote a catalog")
	}
	help, _ := exec.Command(gozoo(t), "bridge", "import", "--help").CombinedOutput()
	if strings.Contains(string(help), "--weights string") {
		t.Errorf("bridge import --help offers --weights:\n%s", help)
	}
}

// TestWrongShapeNamesFreeDims runs gozoo extract on a tensor of the wrong
// rank: the error shows the wanted shape with the batch as N and the free
// height and width as *, not as more batches.
func TestWrongShapeNamesFreeDims(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	dir := t.TempDir()
	if err := npy.WriteFile(filepath.Join(dir, "x.npy"), sdk.Zeros(2, 3, 8)); err != nil {
		t.Fatal(err)
	}
	stderr, code := userRun(t, dir, "extract", "--arch", "resnet18", "--layers", "fc", "--out", "f.npz", "x.npy")
	if code != 1 || !strings.Contains(stderr, "[N, 3, *, *]") || strings.Contains(stderr, "[N, 3, N, N]") {
		t.Errorf("extract on [2, 3, 8]: exit %d; want 1 and the wanted shape [N, 3, *, *]:\n%s", code, stderr)
	}
}

// TestTruncatedCheckpointNamedOnce runs gozoo extract with a truncated
// checkpoint: the error says what is wrong and what to do, naming the
// file once.
func TestTruncatedCheckpointNamedOnce(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	dir := t.TempDir()
	if err := npy.WriteFile(filepath.Join(dir, "x.npy"), sdk.Zeros(1, 3, 32, 32)); err != nil {
		t.Fatal(err)
	}
	// The start of a zip archive, as a torch.save file cut short is.
	if err := os.WriteFile(filepath.Join(dir, "cut.pth"), []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00archive/data.pkl"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, code := userRun(t, dir, "extract", "--arch", "resnet18", "--weights", "cut.pth", "--layers", "fc", "--out", "f.npz", "x.npy")
	if code != 1 || !strings.Contains(stderr, "re-download or re-save the checkpoint") {
		t.Fatalf("extract with a truncated checkpoint: exit %d; want 1 and what to do:\n%s", code, stderr)
	}
	if n := strings.Count(stderr, "cut.pth"); n != 1 {
		t.Errorf("the error names cut.pth %d times; want once:\n%s", n, stderr)
	}
}

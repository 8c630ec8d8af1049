package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
)

// gozooBinary is the gozoo command built for this test process.
func gozooBinary(t testing.TB) string { return gozoo(t) }

// userRun runs the gozoo binary in dir with args, as a user types them
// there, with the test-built plugins on GOZOO_PLUGIN_PATH. It returns
// stderr and the exit code. A run that takes over 3 minutes fails the test.
func userRun(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gozooBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOZOO_PLUGIN_PATH="+testenv.BuildPlugin(t, "resnet"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gozoo %s: still running after 3 minutes:\n%s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gozoo %s: %v", strings.Join(args, " "), err)
	}
	return stderr.String(), code
}

// chunks counts the committed chunks of a partial output.
func chunks(t *testing.T, partial string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(partial, "chunk-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestResumeRefusesOtherSettings interrupts an image extract (a corrupt
// image with --on-error fail), then reruns it with one setting changed:
// every such rerun is refused, naming the setting, and leaves the partial
// output alone; the rerun with the first flags resumes and gives a file
// byte-identical to an uninterrupted run.
func TestResumeRefusesOtherSettings(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	os.Mkdir(filepath.Join(dir, "more"), 0o755)
	for i := 0; i < 6; i++ {
		writeImage(t, filepath.Join(dir, "imgs", "a"+string(rune('0'+i))+".png"), 40+i, 36+i, int64(i))
		writeImage(t, filepath.Join(dir, "more", "a"+string(rune('0'+i))+".png"), 40+i, 36+i, int64(i))
	}
	writeImage(t, filepath.Join(dir, "more", "a6.png"), 50, 50, 6)
	bad := filepath.Join(dir, "imgs", "a4.png")
	good, _ := os.ReadFile(bad)
	os.WriteFile(bad, good[:len(good)/2], 0o644)
	flags := []string{"--arch", "resnet18", "--opt", "width=8", "--resize", "36", "--crop", "32",
		"--layers", "avgpool", "--batch-size", "2", "--threads", "1", "--seed", "1"}
	run := func(extra ...string) (string, int) {
		args := append([]string{"extract"}, flags...)
		return userRun(t, dir, append(args, extra...)...)
	}
	stderr, code := run("--out", "f.npz", "imgs")
	if code != 1 || !strings.Contains(stderr, "a4.png") {
		t.Fatalf("first run: exit %d; want 1 naming the corrupt a4.png:\n%s", code, stderr)
	}
	if n := chunks(t, filepath.Join(dir, "f.npz.partial")); n != 2 {
		t.Fatalf("f.npz.partial holds %d chunks; want 2 (images 0-3 in batches of 2)", n)
	}
	os.WriteFile(bad, good, 0o644) // the user fixes the image

	for _, tc := range []struct {
		name    string
		args    []string
		setting string
	}{
		{"seed", []string{"--seed", "2"}, "seed:"},
		{"weights", []string{"--weights", "w.pth", "--num-classes", "10"}, "weights:"},
		{"options", []string{"--num-classes", "10"}, "options:"},
		{"resize", []string{"--resize", "40"}, "transform:"},
		{"crop", []string{"--crop", "28"}, "transform:"},
		{"interpolation", []string{"--interpolation", "bicubic"}, "transform:"},
		{"mean", []string{"--mean", "0.5,0.5,0.5"}, "transform:"},
		{"std", []string{"--std", "0.5,0.5,0.5"}, "transform:"},
		{"layers", []string{"--layers", "avgpool,fc"}, "layers:"},
		{"arch", []string{"--arch", "resnet34"}, "arch:"},
		{"inputs", []string{"more"}, "inputs:"},
		{"shard", []string{"--shard", "0/2"}, "inputs:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "weights" {
				// The embedded model's checkpoint: resnet18 width 8, 10 classes.
				b, err := os.ReadFile("../../zoo/models/resnet18_w8_fmnist.pth")
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, "w.pth"), b, 0o644)
			}
			args := append(append([]string{}, tc.args...), "--out", "f.npz")
			if tc.name != "inputs" {
				args = append(args, "imgs")
			}
			stderr, code := run(args...)
			if code == 0 || !strings.Contains(stderr, tc.setting) ||
				!strings.Contains(stderr, "remove f.npz.partial or pass the same flags") {
				t.Fatalf("rerun with %v: exit %d; want a refusal naming %q and saying what to do:\n%s", tc.args, code, tc.setting, stderr)
			}
			if n := chunks(t, filepath.Join(dir, "f.npz.partial")); n != 2 {
				t.Fatalf("the refused run changed f.npz.partial: %d chunks; want 2", n)
			}
			if _, err := os.Stat(filepath.Join(dir, "f.npz")); err == nil {
				t.Fatal("the refused run wrote f.npz")
			}
		})
	}

	stderr, code = run("--out", "f.npz", "imgs")
	if code != 0 || !strings.Contains(stderr, "resuming f.npz: 4 of 6 images") {
		t.Fatalf("rerun with the same flags: exit %d; want it to resume at 4 of 6:\n%s", code, stderr)
	}
	if stderr, code := run("--out", "ref.npz", "imgs"); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "f.npz"))
	want, _ := os.ReadFile(filepath.Join(dir, "ref.npz"))
	if len(got) == 0 || !bytes.Equal(got, want) {
		t.Errorf("resumed f.npz (%d bytes) differs from an uninterrupted run (%d bytes)", len(got), len(want))
	}
}

// TestFailedStartLeavesNoPartial runs extracts that fail before their
// first batch (a typo in --layers, an unknown arch, weights that are not
// a checkpoint): none leaves OUT.partial, and the corrected command then
// runs.
func TestFailedStartLeavesNoPartial(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	for _, tc := range []struct {
		name string
		bad  []string
		why  string
	}{
		{"layer typo", []string{"--arch", "resnet18", "--layers", "avgpol"}, `unknown layer "avgpol"`},
		{"unknown arch", []string{"--arch", "resnet19", "--layers", "avgpool"}, "resnet19"},
		{"bad weights", []string{"--arch", "resnet18", "--layers", "avgpool", "--weights", "w.pth"}, "w.pth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
			for i := 0; i < 3; i++ {
				writeImage(t, filepath.Join(dir, "imgs", "a"+string(rune('0'+i))+".png"), 40, 40, int64(i))
			}
			os.WriteFile(filepath.Join(dir, "w.pth"), []byte("not a checkpoint"), 0o644)
			small := []string{"--opt", "width=8", "--resize", "36", "--crop", "32", "--out", "f.npz", "imgs"}
			stderr, code := userRun(t, dir, append(append([]string{"extract"}, tc.bad...), small...)...)
			if code == 0 || !strings.Contains(stderr, tc.why) {
				t.Fatalf("extract %v: exit %d; want a failure mentioning %q:\n%s", tc.bad, code, tc.why, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "f.npz.partial")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("f.npz.partial left by a run that failed before its first batch (stat: %v)", err)
			}
			stderr, code = userRun(t, dir, append([]string{"extract", "--arch", "resnet18", "--layers", "avgpool"}, small...)...)
			if code != 0 {
				t.Fatalf("the corrected command: exit %d\n%s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "f.npz")); err != nil {
				t.Fatalf("the corrected command wrote no f.npz: %v", err)
			}
		})
	}
}

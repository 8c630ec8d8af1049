package cli

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

// TestDataParallelPrefix loads a checkpoint saved from nn.DataParallel
// (every key starts with "module."): without an option the error names
// the fix, --opt strip_prefix=module.; with it the Go and the torch
// plugin load the checkpoint, the Go plugin's features equal those of the
// same weights saved without the wrapper, and bridge import records the
// option in the catalog so that extract --model loads it too.
func TestDataParallelPrefix(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	py := testenv.Python(t)
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_dataparallel.py", dir)
	torchDir := t.TempDir()
	if _, err := torch.WriteManifest(torchDir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "1"}); err != nil {
		t.Fatal(err)
	}
	plugins := testenv.BuildPlugin(t, "resnet") + "," + torchDir
	dp, plain := filepath.Join(dir, "dp.pth"), filepath.Join(dir, "plain.pth")
	in := filepath.Join(dir, "in.npy")
	writeInput(t, in, 2, 3, 32, 32)

	for _, p := range []string{"resnet", "torch"} {
		_, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "params", "resnet18", "--plugin", p, "--num-classes", "5", "--weights", dp)
		if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "--opt strip_prefix=module.") {
			t.Errorf("plugin %s: params --weights dp.pth = %v; want ErrWeights naming --opt strip_prefix=module.", p, err)
		}
		out, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "params", "resnet18", "--plugin", p, "--num-classes", "5", "--weights", dp, "--opt", "strip_prefix=module.")
		if err != nil || !strings.Contains(out, "fc.weight") {
			t.Errorf("plugin %s: params --opt strip_prefix=module. = %v\n%s", p, err, out)
		}
		// A prefix the keys do not have is refused, naming a key.
		_, _, err = execute(t, &Factory{}, "--plugin-path", plugins, "params", "resnet18", "--plugin", p, "--num-classes", "5", "--weights", plain, "--opt", "strip_prefix=module.")
		if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "does not start with it") {
			t.Errorf("plugin %s: strip_prefix on a plain checkpoint = %v; want ErrWeights", p, err)
		}
	}

	feats := func(args ...string) map[string]*sdk.Tensor {
		t.Helper()
		out := filepath.Join(t.TempDir(), "f.npz")
		args = append([]string{"--plugin-path", plugins, "extract", "--arch", "resnet18", "--plugin", "resnet", "--num-classes", "5", "--layers", "layer4,fc", "--out", out}, args...)
		if _, stderr, err := execute(t, &Factory{}, append(args, in)...); err != nil {
			t.Fatalf("extract %q: %v\n%s", args, err, stderr)
		}
		got, _, err := npy.ReadNPZ(out)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a := feats("--weights", dp, "--opt", "strip_prefix=module.")
	b := feats("--weights", plain)
	for _, l := range []string{"layer4", "fc"} {
		if d := maxAbsDiff(a[l].Float32, b[l].Float32); d != 0 {
			t.Errorf("%s: stripped DataParallel checkpoint differs from the plain one by %g", l, d)
		}
	}

	catalog := filepath.Join(dir, "zoo.yaml")
	if _, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "bridge", "import", dp, "--arch", "resnet18",
		"--opt", "strip_prefix=module.", "--input-shape", "1,3,32,32", "--layers", "layer4,fc", "--catalog", catalog); err != nil {
		t.Fatalf("bridge import --opt strip_prefix=module.: %v\n%s", err, stderr)
	}
	cat := zoo.New()
	if err := cat.MergeFile(catalog); err != nil {
		t.Fatal(err)
	}
	e, err := cat.Lookup("dp.local")
	if err != nil || e.Options[bridge.PrefixOption] != "module." || e.Options["num_classes"] != "5" {
		t.Errorf("catalog entry %+v (err %v); want options strip_prefix=module. and num_classes=5", e, err)
	}
	// The entry loads by name with its options.
	t.Setenv("GOZOO_CACHE", t.TempDir())
	out, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "params", "--model", "dp.local", "--catalog", catalog)
	if err != nil || !strings.Contains(out, "strip_prefix=module.") || !strings.Contains(out, "[5, 512]") {
		t.Errorf("params --model dp.local = %v\n%s%s", err, out, stderr)
	}
}

package onnx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/cli"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/zoo"
)

// gozoo runs the CLI in-process over the given plugin folders.
func gozoo(t *testing.T, dirs []string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	f := &cli.Factory{Out: &out, Err: &errb}
	cmd := cli.NewRootCmd(f)
	cmd.SetArgs(append([]string{"--plugin-path", strings.Join(dirs, ",")}, args...))
	err := cmd.ExecuteContext(context.Background())
	if cerr := f.Close(); cerr != nil {
		t.Errorf("Factory.Close: %v", cerr)
	}
	return out.String() + errb.String(), err
}

// plugins returns folders holding the torch plugin's manifest and the
// onnx and resnet plugin binaries.
func plugins(t *testing.T) []string {
	t.Helper()
	py := testenv.Python(t)
	dir := t.TempDir()
	if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "2"}); err != nil {
		t.Fatal(err)
	}
	testenv.BuildPlugin(t, "onnx")
	return []string{dir, testenv.BuildPlugin(t, "resnet")}
}

func readReport(t *testing.T, path string) *bridge.ParityReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r bridge.ParityReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestBridgeExportCustomModel exports testdata's TinyNet (a residual and an
// attention block; not a zoo arch) through the torch plugin with gozoo
// bridge export, then extracts inner modules from the .onnx with gozoo
// extract --onnx and compares them with PyTorch's forward hooks.
func TestBridgeExportCustomModel(t *testing.T) {
	_, want := tinynet(t) // also checks ORT and Python
	dirs := plugins(t)
	tmp := t.TempDir()
	testenv.RunPython(t, "testdata/make_tinynet.py", tmp)
	onnxPath := filepath.Join(tmp, "exported.onnx")
	log, err := gozoo(t, dirs, "bridge", "export", "--module", "tinynet:build", "--module-path", "testdata/tinynet",
		"--checkpoint", filepath.Join(tmp, "tinynet.pth"), "--input-shape", "1,3,16,16", "--layers", "block,attn", "--out", onnxPath)
	if err != nil {
		t.Fatalf("gozoo bridge export: %v\n%s", err, log)
	}
	t.Log(log)
	rep := readReport(t, filepath.Join(tmp, "exported.parity.json"))
	if !rep.Pass || len(rep.Layers) != 2 {
		t.Errorf("parity report pass=%v with %d layers; want a pass over block and attn", rep.Pass, len(rep.Layers))
	}
	md, err := os.ReadFile(filepath.Join(tmp, "exported.parity.md"))
	if err != nil || !strings.Contains(string(md), "| attn |") {
		t.Errorf("parity Markdown lacks the attn row (err %v)", err)
	}

	in := filepath.Join(tmp, "in.npy")
	if err := npy.WriteFile(in, want["input"]); err != nil {
		t.Fatal(err)
	}
	layers := []string{"block", "attn", "attn.qkv", "block.conv1", "block.relu", "head"}
	feats := filepath.Join(tmp, "feats.npz")
	if log, err := gozoo(t, dirs, "extract", "--onnx", onnxPath, "--layers", strings.Join(layers, ","), "--out", feats, in); err != nil {
		t.Fatalf("gozoo extract --onnx: %v\n%s", err, log)
	}
	got, _, err := npy.ReadNPZ(feats)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		g, w := got[l], want[l]
		var diff, scale float64 = 0, 1
		for i := range w.Float32 {
			diff = math.Max(diff, math.Abs(float64(g.Float32[i]-w.Float32[i])))
			scale = math.Max(scale, math.Abs(float64(w.Float32[i])))
		}
		t.Logf("%-10s gozoo extract --onnx vs PyTorch hook: max abs diff %.3g (scale %.3g)", l, diff, scale)
		if diff > 1e-4*scale {
			t.Errorf("%s: gozoo differs from PyTorch's forward hook by %g; want <= %g", l, diff, 1e-4*scale)
		}
	}
}

// TestBridgeImport checks a torchvision checkpoint against the Go resnet
// plugin with gozoo bridge import: strict matching, a parity report
// against PyTorch, and a catalog entry.
func TestBridgeImport(t *testing.T) {
	dirs := plugins(t)
	tmp := t.TempDir()
	w := filepath.Join(tmp, "r18.pth")
	testenv.RunPython(t, "../torch/testdata/make_weights.py", "resnet18", w, "3", "7")
	catalog := filepath.Join(tmp, "zoo.yaml")
	log, err := gozoo(t, dirs, "bridge", "import", w, "--arch", "resnet18", "--input-shape", "2,3,32,32", "--catalog", catalog)
	if err != nil {
		t.Fatalf("gozoo bridge import: %v\n%s", err, log)
	}
	t.Log(log)
	rep := readReport(t, filepath.Join(tmp, "r18.parity.json"))
	if !rep.Pass || len(rep.Layers) < 50 {
		t.Errorf("parity pass=%v over %d layers; want a pass over resnet18's layers", rep.Pass, len(rep.Layers))
	}
	cat := zoo.New()
	if err := cat.MergeFile(catalog); err != nil {
		t.Fatal(err)
	}
	e, err := cat.Lookup("r18.local")
	if err != nil || e.Plugin != "resnet" || e.Arch != "resnet18" || e.Options["num_classes"] != "7" || e.Weights.Path != w {
		t.Errorf("catalog entry %+v (err %v); want resnet18 from plugin resnet, 7 classes, weights %s", e, err, w)
	}
	// A checkpoint of another arch fails strictly.
	if _, err := gozoo(t, dirs, "bridge", "import", w, "--arch", "resnet34", "--catalog", catalog); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("bridge import resnet18 weights as resnet34 = %v; want a strict-match error naming missing keys", err)
	}
}

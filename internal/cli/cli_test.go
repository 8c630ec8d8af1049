package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/plugins/resnet"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	toyplugin.Cleanup()
	os.Exit(code)
}

// execute runs the root command with args and returns stdout, stderr and
// the error.
func execute(t *testing.T, f *Factory, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	f.Out, f.Err = &out, &errb
	cmd := NewRootCmd(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if cerr := f.Close(); cerr != nil {
		t.Errorf("Factory.Close: %v", cerr)
	}
	return out.String(), errb.String(), err
}

func TestExtractFlags(t *testing.T) {
	var got *ExtractOptions
	f := &Factory{}
	cmd := NewCmdExtract(f, func(_ context.Context, o *ExtractOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--arch", "resnet50", "--weights", "w.pth", "--num-classes", "37", "--device", "cuda:0",
		"--layers", "layer2,layer3.5.conv2,avgpool,fc", "--out", "o.npz", "--opt", "a=1,b=2", "in.npy"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Model.Arch != "resnet50" || got.Model.Weights != "w.pth" || got.Out != "o.npz" || got.Input != "in.npy" {
		t.Errorf("options = %+v", got)
	}
	if want := []string{"layer2", "layer3.5.conv2", "avgpool", "fc"}; !reflect.DeepEqual(got.Layers, want) {
		t.Errorf("Layers = %q; want %q", got.Layers, want)
	}
	req, err := got.Model.request()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "2", "num_classes": "37"}
	if !reflect.DeepEqual(req.Options, want) || req.Device != "cuda:0" {
		t.Errorf("request() = %+v; want options %v device cuda:0", req, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ExtractOptions
		want string
	}{
		{"no arch", ExtractOptions{Layers: []string{"fc"}, Out: "o.npz"}, "--arch is required"},
		{"no layers", ExtractOptions{Model: modelFlags{Arch: "resnet18"}, Out: "o.npz"}, "--layers is required"},
		{"dup layer", ExtractOptions{Model: modelFlags{Arch: "resnet18"}, Layers: []string{"fc", "fc"}, Out: "o.npz", BatchSize: 1}, "twice"},
		{"bad out", ExtractOptions{Model: modelFlags{Arch: "resnet18"}, Layers: []string{"fc"}, Out: "o.txt", BatchSize: 1}, "only .npz"},
		{"batch", ExtractOptions{Model: modelFlags{Arch: "resnet18"}, Layers: []string{"fc"}, Out: "o.npz"}, "--batch-size 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.validate()
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate() = %v; want a usage error containing %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		opts []string
		nc   int
		want string
	}{
		{[]string{"novalue"}, 0, "want key=value"},
		{[]string{"a=1", "a=2"}, 0, "given twice"},
		{[]string{"num_classes=5"}, 7, "conflicts"},
	} {
		m := modelFlags{Opts: tc.opts, NumClasses: tc.nc}
		if _, err := m.request(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("request(%q, %d) = %v; want %q", tc.opts, tc.nc, err, tc.want)
		}
	}
}

func TestParseInputSize(t *testing.T) {
	def := []int64{-1, 3, 224, 224}
	for _, tc := range []struct {
		in   string
		want []int64
		ok   bool
	}{
		{"", nil, true},
		{"160", []int64{1, 3, 160, 160}, true},
		{"160,192", []int64{1, 3, 160, 192}, true},
		{"0", nil, false},
		{"1,2,3", nil, false},
		{"x", nil, false},
	} {
		got, err := parseInputSize(tc.in, def)
		if (err == nil) != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseInputSize(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// writeInput writes a deterministic float32 [n,c,h,w] .npy.
func writeInput(t *testing.T, path string, n, c, h, w int64) *sdk.Tensor {
	t.Helper()
	x := sdk.Zeros(n, c, h, w)
	for i := range x.Float32 {
		x.Float32[i] = float32((i*7919)%1000)/500 - 1
	}
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExtractEndToEnd(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.npy")
	x := writeInput(t, in, 5, 3, 64, 80)
	layers := []string{"layer2", "layer3.1.conv2", "avgpool", "fc"}

	out := filepath.Join(dir, "out.npz")
	_, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--arch", "resnet18",
		"--num-classes", "7", "--layers", strings.Join(layers, ","), "--batch-size", "2", "--out", out, in)
	if err != nil {
		t.Fatalf("extract: %v\n%s", err, stderr)
	}
	got, names, err := npy.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, layers) {
		t.Errorf("npz arrays = %q; want %q", names, layers)
	}
	wantShapes := map[string][]int64{
		"layer2": {5, 128, 8, 10}, "layer3.1.conv2": {5, 256, 4, 5}, "avgpool": {5, 512, 1, 1}, "fc": {5, 7},
	}
	for name, want := range wantShapes {
		if !sdk.EqualShape(got[name].Shape, want) {
			t.Errorf("%s shape = %v; want %v", name, got[name].Shape, want)
		}
	}

	// Batched through the CLI (2+2+1 rows) equals one direct forward pass.
	f := &Factory{PluginPath: []string{plugins}}
	defer f.Close()
	m, _, err := f.load(context.Background(), &modelFlags{Arch: "resnet18", NumClasses: 7, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref, err := m.Extract(context.Background(), &sdk.ExtractRequest{Layers: layers, Input: x})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range layers {
		if d := maxAbsDiff(got[name].Float32, ref.Outputs[name].Float32); d > 1e-5 {
			t.Errorf("%s: batched CLI output differs from one pass by %g", name, d)
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return 1e30
	}
	var m float64
	for i := range a {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

func TestExtractErrors(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npy")
	writeInput(t, good, 2, 3, 64, 64)
	gray := filepath.Join(dir, "gray.npy")
	writeInput(t, gray, 2, 1, 64, 64)
	out := filepath.Join(dir, "out.npz")
	// A file from an earlier run: a failed run must leave it alone.
	if err := os.WriteFile(out, []byte("earlier results"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
		is   error
	}{
		{"unknown arch", []string{"extract", "--arch", "resnet05", "--layers", "fc", "--out", out, good},
			[]string{`no plugin offers arch "resnet05"`, "resnet50"}, sdk.ErrUnknownArch},
		{"unknown layer", []string{"extract", "--arch", "resnet18", "--layers", "layer3.1.conv9", "--out", out, good},
			[]string{`unknown layer "layer3.1.conv9"`, "layer3.1.conv1"}, sdk.ErrUnknownLayer},
		{"channels", []string{"extract", "--arch", "resnet18", "--layers", "fc", "--out", out, gray},
			[]string{"[2, 1, 64, 64]"}, sdk.ErrBadInput},
		{"missing input", []string{"extract", "--arch", "resnet18", "--layers", "fc", "--out", out, filepath.Join(dir, "nope.npy")},
			[]string{"nope.npy"}, os.ErrNotExist},
		{"weights", []string{"extract", "--arch", "resnet18", "--weights", good, "--layers", "fc", "--out", out, good},
			[]string{"good.npy"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := execute(t, &Factory{}, append([]string{"--plugin-path", plugins}, tc.args...)...)
			if err == nil {
				t.Fatal("extract succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if b, _ := os.ReadFile(out); string(b) != "earlier results" {
				t.Errorf("a failed extract changed %s", out)
			}
		})
	}
}

func TestPluginsAndLayers(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	stdout, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "plugins")
	if err != nil {
		t.Fatalf("plugins: %v\n%s", err, stderr)
	}
	for _, want := range []string{"resnet", "resnet18", "wide_resnet101_2", filepath.Join(plugins, "gozoo-backbone-resnet")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("gozoo plugins output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, err = execute(t, &Factory{}, "--plugin-path", plugins, "layers", "resnet50", "--input-size", "160,192")
	if err != nil {
		t.Fatalf("layers: %v\n%s", err, stderr)
	}
	for _, want := range []string{"num_classes", "layer3.5.conv2", "[N, 256, 10, 12]", "[N, 2048, 1, 1]", "25557032 parameters"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("gozoo layers output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestParams(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	stdout, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "params", "resnet18",
		"--freeze", "*", "--unfreeze", "layer4.*,fc.*")
	if err != nil {
		t.Fatalf("params: %v\n%s", err, stderr)
	}
	// torchvision's resnet18: 62 parameter tensors, 11689512 elements, of
	// which layer4 and fc hold 8393728 + 513000.
	for _, want := range []string{"layer4.1.conv2.weight", "[512, 512, 3, 3]", "62 tensors, 11689512 parameters, 8906728 trainable"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("gozoo params output lacks %q:\n%s", want, stdout)
		}
	}
	if _, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "params", "resnet18", "--unfreeze", "layer9.*"); !errors.Is(err, sdk.ErrNoMatch) {
		t.Errorf("params --unfreeze layer9.* = %v; want a no-match error", err)
	}
}

// TestLayersShowsLoadedOptions checks that gozoo layers prints the
// options a model was loaded with: the checkpoint's num_classes, the
// user's width, not the arch's defaults.
func TestLayersShowsLoadedOptions(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	a := &resnet.Family.Archs[0] // resnet18
	o, err := backbone.NewOptions(a, map[string]string{"width": "8", "num_classes": "10"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := sdktest.WriteCheckpoint(t, nn.RandomWeights(n.Build(n.DefaultInput()).Specs(), 1).StateDict())
	stdout, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "layers", "resnet18", "--weights", ckpt, "--opt", "width=8")
	if err != nil {
		t.Fatalf("layers: %v\n%s", err, stderr)
	}
	for _, want := range []string{"num_classes=10 (from the checkpoint)", "width=8 (given)", "[N, 10]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("gozoo layers output lacks %q:\n%s", want, stdout)
		}
	}
}

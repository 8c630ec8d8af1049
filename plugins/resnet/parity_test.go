package resnet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// needORT skips (or fails in CI) when the ONNX Runtime library is absent.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// fixture is what make_parity.py wrote.
type fixture struct {
	dir     string
	Input   []int64            `json:"input"`
	Outputs map[string][]int64 `json:"outputs"`
	Modules [][2]string        `json:"modules"`
	Params  []struct {
		Name  string
		Shape []int64
	} `json:"-"`
	RawParams [][2]json.RawMessage `json:"params"`
}

// makeFixture runs make_parity.py for arch into a temporary folder.
func makeFixture(t *testing.T, arch string, h, w int, layers []string, extra ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{arch, dir, "--height", strconv.Itoa(h), "--width", strconv.Itoa(w),
		"--layers", strings.Join(layers, ",")}, extra...)
	testenv.RunPython(t, "testdata/make_parity.py", args...)
	f := &fixture{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, f); err != nil {
		t.Fatalf("meta.json: %v", err)
	}
	for _, p := range f.RawParams {
		var name string
		var shape []int64
		if err := json.Unmarshal(p[0], &name); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(p[1], &shape); err != nil {
			t.Fatal(err)
		}
		f.Params = append(f.Params, struct {
			Name  string
			Shape []int64
		}{name, shape})
	}
	return f
}

func (f *fixture) tensor(t *testing.T, name string, shape []int64) *sdk.Tensor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]float32, len(b)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	x, err := sdk.NewTensor(shape, data)
	if err != nil {
		t.Fatalf("%s.bin: %v", name, err)
	}
	return x
}

// maxDiff returns max |a-b| and max |want|.
func maxDiff(got, want []float32) (diff, scale float64) {
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// parityCases covers every arch, at a non-square input, from the stem to
// fc, including a block's inner conv and its (last-call) relu.
var parityCases = []struct {
	arch   string
	h, w   int
	block3 int // a block of layer3 to probe
	short  bool
}{
	{"resnet18", 160, 192, 1, true},
	{"resnet34", 160, 192, 5, false},
	{"resnet50", 160, 192, 5, true},
	{"resnet101", 160, 192, 22, false},
	{"resnet152", 160, 192, 35, false},
	{"resnext50_32x4d", 160, 192, 3, false},
	{"resnext101_32x8d", 128, 160, 11, false},
	{"wide_resnet50_2", 128, 160, 2, false},
	{"wide_resnet101_2", 128, 160, 17, false},
}

// TestParity compares every arch's layers with torchvision's forward
// hooks on the same weights and input: max |ours - torch| must stay
// within 1e-4 * max(1, max |torch|) per layer. It also checks that the
// layers are torchvision's named_modules with the same classes, and the
// params torchvision's named_parameters.
func TestParity(t *testing.T) {
	testenv.Python(t)
	needORT(t)
	for _, c := range parityCases {
		t.Run(c.arch, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs resnet18 and resnet50 only")
			}
			blk := "layer3." + strconv.Itoa(c.block3)
			layers := []string{"conv1", "bn1", "maxpool", "layer1", "layer2.0.downsample.0", "layer2.0.downsample",
				blk + ".conv2", blk + ".relu", blk, "layer3", "layer4", "avgpool", "fc"}
			start := time.Now()
			f := makeFixture(t, c.arch, c.h, c.w, layers)
			torchTime := time.Since(start)

			ctx := context.Background()
			start = time.Now()
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: c.arch, WeightsPath: filepath.Join(f.dir, "weights.pth"), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			loadTime := time.Since(start)
			x := f.tensor(t, "input", f.Input)
			start = time.Now()
			resp, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: layers, Input: x})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			runTime := time.Since(start)
			worst := 0.0
			for _, l := range layers {
				want := f.tensor(t, l, f.Outputs[l])
				got := resp.Outputs[l]
				if got == nil {
					t.Errorf("Extract did not return layer %s", l)
					continue
				}
				if !sdk.EqualShape(got.Shape, want.Shape) {
					t.Errorf("layer %s: shape %v; torch %v", l, got.Shape, want.Shape)
					continue
				}
				diff, scale := maxDiff(got.Float32, want.Float32)
				worst = math.Max(worst, diff/math.Max(1, scale))
				if testing.Verbose() {
					t.Logf("  %-24s max abs diff %.3g, max |torch| %.3g", l, diff, scale)
				}
				if tol := 1e-4 * math.Max(1, scale); diff > tol || math.IsNaN(diff) {
					t.Errorf("layer %s: max |ours - torch| = %.3g > %.3g (max |torch| = %.3g)", l, diff, tol, scale)
				}
			}
			t.Logf("%s %v: worst diff/max(1,|torch|) %.3g over %d layers; torch fixture %v, load %v, extract %v",
				c.arch, f.Input, worst, len(layers), torchTime.Round(time.Millisecond), loadTime.Round(time.Millisecond), runTime.Round(time.Millisecond))

			checkCoverage(t, m, f)
		})
	}
}

// checkCoverage compares Layers with named_modules and Params with
// named_parameters, and checks the shapes Layers reports for the fixture's
// input against the hooked outputs.
func checkCoverage(t *testing.T, m sdk.Model, f *fixture) {
	t.Helper()
	ctx := context.Background()
	ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: f.Input})
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	ours := map[string]sdk.Layer{}
	for _, l := range ls {
		ours[l.Name] = l
	}
	theirs := map[string]bool{}
	for _, mod := range f.Modules {
		theirs[mod[0]] = true
		l, ok := ours[mod[0]]
		if !ok {
			t.Errorf("torch module %s (%s) is not a layer", mod[0], mod[1])
			continue
		}
		if l.Kind != mod[1] {
			t.Errorf("layer %s kind = %s; torch %s", mod[0], l.Kind, mod[1])
		}
	}
	for _, l := range ls {
		if !theirs[l.Name] {
			t.Errorf("layer %s (%s) is not a torch module", l.Name, l.Kind)
		}
		if want, ok := f.Outputs[l.Name]; ok {
			w := append([]int64{-1}, want[1:]...)
			if !sdk.EqualShape(l.Shape, w) {
				t.Errorf("layer %s shape = %v; torch %v", l.Name, l.Shape, w)
			}
		}
	}
	ps, err := m.Params(ctx)
	if err != nil {
		t.Fatalf("Params: %v", err)
	}
	if len(ps) != len(f.Params) {
		t.Errorf("Params: %d; torch has %d named_parameters", len(ps), len(f.Params))
	}
	for i := range min(len(ps), len(f.Params)) {
		if ps[i].Name != f.Params[i].Name || !sdk.EqualShape(ps[i].Shape, f.Params[i].Shape) {
			t.Errorf("param %d = %s %v; torch %s %v", i, ps[i].Name, ps[i].Shape, f.Params[i].Name, f.Params[i].Shape)
		}
	}
}

// TestLoadMismatch checks the errors for a checkpoint of another arch and
// for a num_classes that contradicts it, and that num_classes is read from
// the checkpoint when not given.
func TestLoadMismatch(t *testing.T) {
	testenv.Python(t)
	f := makeFixture(t, "resnet18", 64, 64, []string{"fc"}, "--num-classes", "10")
	path := filepath.Join(f.dir, "weights.pth")
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"resnet50", map[string]string{"num_classes": "10"}, []string{"missing", "another ResNet variant"}, false},
		{"resnet18", map[string]string{"num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 10"}, false},
		{"resnet18", map[string]string{"num_classes": "10"}, nil, true},
		// The checkpoint's shapes set num_classes when it is not given.
		{"resnet18", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.arch, tc.options), func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: path})
			if tc.ok {
				if err != nil {
					t.Fatalf("Load = %v; want success", err)
				}
				m.Close()
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Load(%s with resnet18 weights) succeeded; want an error", tc.arch)
			}
			if !errors.Is(err, sdk.ErrWeights) {
				t.Errorf("Load error %v does not match sdk.ErrWeights", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load error %q lacks %q", err, s)
				}
			}
		})
	}
}

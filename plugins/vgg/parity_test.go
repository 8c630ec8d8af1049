package vgg

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	if slices.Contains(extra, "--weights-only") {
		return f
	}
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

// parityCases covers every arch at several input sizes: 224 (avgpool a
// plain 1x1 window), and sizes whose features map is 1x1, 2x2, 3x3 or
// 3x4, where AdaptiveAvgPool2d((7, 7)) uses overlapping windows.
var parityCases = []struct {
	arch  string
	h, w  int
	short bool
}{
	{"vgg11", 224, 224, true},
	{"vgg11_bn", 64, 80, false},
	{"vgg13", 96, 128, false},
	{"vgg13_bn", 48, 48, false},
	{"vgg16", 64, 80, false},
	{"vgg16_bn", 112, 112, true},
	{"vgg19", 80, 64, false},
	{"vgg19_bn", 64, 96, false},
}

// parityLayers picks, for a, the first conv, a BatchNorm (or ReLU) in the
// middle, the last conv and the last pool of features, and the rest of
// the network down to classifier.
func parityLayers(a arch) []string {
	var convs []int
	i := 0
	for _, v := range a.cfg {
		if v == pool {
			i++
			continue
		}
		convs = append(convs, i)
		i += 2
		if a.bn {
			i++
		}
	}
	mid := convs[len(convs)/2] + 1 // its BatchNorm2d, or its ReLU
	last := convs[len(convs)-1]
	return []string{"features.0", "features." + strconv.Itoa(mid), "features." + strconv.Itoa(last),
		"features." + strconv.Itoa(i-1), "features", "avgpool", "classifier.0", "classifier.4", "classifier.6", "classifier"}
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
				t.Skip("-short runs vgg11 and vgg16_bn only")
			}
			a, _ := findArch(c.arch)
			layers := parityLayers(a)
			start := time.Now()
			f := makeFixture(t, c.arch, c.h, c.w, layers, "--num-classes", "100")
			torchTime := time.Since(start)

			ctx := context.Background()
			start = time.Now()
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: c.arch, WeightsPath: filepath.Join(f.dir, "weights.pth"), Threads: 2,
				Options: map[string]string{"num_classes": "100"}})
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
// for another num_classes.
func TestLoadMismatch(t *testing.T) {
	testenv.Python(t)
	f := makeFixture(t, "vgg11_bn", 32, 32, []string{"features.0"}, "--num-classes", "10", "--weights-only")
	path := filepath.Join(f.dir, "weights.pth")
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"vgg11", map[string]string{"num_classes": "10"}, []string{"unexpected", "looks like vgg11_bn"}, false},
		{"vgg13_bn", map[string]string{"num_classes": "10"}, []string{"missing", "looks like vgg11_bn"}, false},
		{"vgg11_bn", nil, []string{"classifier.6.weight", "num_classes=10"}, false},
		{"vgg11_bn", map[string]string{"num_classes": "10"}, nil, true},
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
				t.Fatalf("Load(%s with vgg11_bn weights) succeeded; want an error", tc.arch)
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

package inception

import (
	"context"
	"encoding/binary"
	"encoding/json"
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

// parityCases covers both networks with aux heads on and off,
// transform_input on and off, at several input sizes.
var parityCases = []struct {
	arch           string
	h, w           int
	aux, transform bool
	layers         []string
	short          bool
}{
	{"inception_v3", 299, 299, true, false, v3Layers, true},
	{"inception_v3", 299, 299, false, true, v3Layers[:len(v3Layers)-3], false},
	{"inception_v3", 160, 200, false, false, v3Layers[:len(v3Layers)-3], false},
	{"inception_v3", 75, 75, true, true, v3Layers[:len(v3Layers)-3], false}, // aux head needs a larger input
	{"googlenet", 224, 224, true, true, v1Layers, true},
	{"googlenet", 224, 224, false, false, v1Layers[:len(v1Layers)-4], false},
	{"googlenet", 96, 128, true, false, v1Layers, false},
}

var (
	v3Layers = []string{"Conv2d_1a_3x3.conv", "Conv2d_2b_3x3.bn", "Conv2d_2b_3x3", "maxpool2", "Mixed_5b.branch5x5_2",
		"Mixed_6a", "Mixed_6e.branch7x7dbl_3.conv", "Mixed_6e.branch7x7dbl_3", "Mixed_6e", "Mixed_7b.branch3x3dbl_3b",
		"Mixed_7c", "avgpool", "dropout", "fc",
		"AuxLogits.conv0", "AuxLogits.conv1.bn", "AuxLogits.fc"}
	v1Layers = []string{"conv1.conv", "conv1", "maxpool1", "conv3.bn", "inception3a.branch2.1", "inception3b",
		"inception4a.branch4.0", "inception4d.branch3.1.conv", "inception4e", "maxpool4", "inception5b",
		"avgpool", "dropout", "fc",
		"aux1.conv", "aux1.fc1", "aux2.dropout", "aux2.fc2"}
)

// TestParity compares each configuration's layers with torchvision's
// forward hooks on the same weights and input: max |ours - torch| must
// stay within 1e-4 * max(1, max |torch|) per layer. It also checks that
// the layers are torchvision's named_modules with the same classes, and
// the params torchvision's named_parameters.
func TestParity(t *testing.T) {
	testenv.Python(t)
	needORT(t)
	for _, c := range parityCases {
		name := fmt.Sprintf("%s/%dx%d/aux=%v/transform=%v", c.arch, c.h, c.w, c.aux, c.transform)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs one configuration per network")
			}
			layers := c.layers
			start := time.Now()
			f := makeFixture(t, c.arch, c.h, c.w, layers, "--num-classes", "100",
				"--aux-logits", fmt.Sprint(b2i(c.aux)), "--transform-input", fmt.Sprint(b2i(c.transform)))
			torchTime := time.Since(start)

			ctx := context.Background()
			start = time.Now()
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: c.arch, WeightsPath: filepath.Join(f.dir, "weights.pth"), Threads: 2,
				Options: map[string]string{"num_classes": "100", "aux_logits": fmt.Sprint(c.aux), "transform_input": fmt.Sprint(c.transform)}})
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
					t.Logf("  %-32s max abs diff %.3g, max |torch| %.3g", l, diff, scale)
				}
				if tol := 1e-4 * math.Max(1, scale); diff > tol || math.IsNaN(diff) {
					t.Errorf("layer %s: max |ours - torch| = %.3g > %.3g (max |torch| = %.3g)", l, diff, tol, scale)
				}
			}
			t.Logf("%s %v: worst diff/max(1,|torch|) %.3g over %d layers; torch fixture %v, load %v, extract %v",
				name, f.Input, worst, len(layers), torchTime.Round(time.Millisecond), loadTime.Round(time.Millisecond), runTime.Round(time.Millisecond))

			if c.arch == "inception_v3" && c.aux && c.h < 299 {
				// The aux head needs a larger input: torch has its
				// modules but cannot run them; Layers leaves them out.
				f.Modules = slices.DeleteFunc(f.Modules, func(m [2]string) bool { return strings.HasPrefix(m[0], "AuxLogits") })
			}
			checkCoverage(t, m, f)
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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

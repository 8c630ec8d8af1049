package classic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// needORT skips (or fails in CI) when the ONNX Runtime library is absent.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// parityCase is one fixture make_parity.py writes.
type parityCase struct {
	Name          string
	Arch          string
	Height, Width int
	Batch         int
	Layers        []string
	Float64       bool
	NumClasses    int
	Legacy        bool
	Seed          int
}

// args are the case's make_parity.py arguments after OUTDIR.
func (c parityCase) args() []string {
	a := []string{c.Arch, "--layers", strings.Join(c.Layers, ","), "--height", strconv.Itoa(c.Height),
		"--width", strconv.Itoa(c.Width), "--batch", strconv.Itoa(c.Batch), "--seed", strconv.Itoa(c.Seed)}
	if c.NumClasses > 0 {
		a = append(a, "--num-classes", strconv.Itoa(c.NumClasses))
	}
	if c.Float64 {
		a = append(a, "--float64")
	}
	if c.Legacy {
		a = append(a, "--legacy")
	}
	return a
}

// layersOf picks the layers a parity case checks: every layer at most
// depth dots down and every module of the probe modules.
func layersOf(name string, depth int, probes ...string) ([]string, error) {
	i := slices.IndexFunc(archs, func(a arch) bool { return a.name == name })
	g := archs[i].net(1000).Build([]int64{-1, 3, 224, 224})
	if err := g.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, l := range g.LayerNames() {
		probe := slices.ContainsFunc(probes, func(p string) bool { return l == p || strings.HasPrefix(l, p+".") })
		if strings.Count(l, ".") <= depth || probe {
			out = append(out, l)
		}
	}
	return out, nil
}

// cases lists every fixture. Each arch has one at 224x224 (every module
// of some blocks, and a float64 run) and one at 97x67 (131x97 for
// AlexNet, whose features are then 3x2 and its adaptive pool makes 6x6
// of them). DenseNet-161, -169 and -201, the largest, are compared at
// 97x67 alone, with a float64 run; TestLayerShapes checks them at 224.
// A densenet121 checkpoint with legacy keys and a 10-class squeezenet1_1
// check options and key adaptation.
var cases = sync.OnceValues(func() ([]parityCase, error) {
	type spec struct {
		arch          string
		name          string
		batch, h, w   int
		depth         int
		probes        []string
		float64, keep bool
	}
	specs := []spec{
		{"alexnet", "224", 1, 224, 224, 1, nil, true, false},
		{"alexnet", "131x97", 2, 131, 97, 1, nil, false, false},
		{"squeezenet1_0", "224", 1, 224, 224, 1, []string{"features.3", "features.12"}, true, false},
		{"squeezenet1_0", "97x67", 2, 97, 67, 1, nil, false, false},
		{"squeezenet1_1", "224", 1, 224, 224, 1, []string{"features.9"}, true, false},
		{"squeezenet1_1", "97x67", 2, 97, 67, 1, nil, false, false},
		{"densenet121", "224", 1, 224, 224, 2, []string{"features.denseblock1.denselayer1", "features.transition3", "features.denseblock4.denselayer16"}, true, false},
		{"densenet121", "97x67", 2, 97, 67, 1, nil, false, false},
		{"densenet161", "97x67", 1, 97, 67, 1, nil, true, false},
		{"densenet169", "97x67", 1, 97, 67, 1, nil, true, false},
		{"densenet201", "97x67", 1, 97, 67, 1, []string{"features.denseblock3.denselayer48"}, true, false},
	}
	var out []parityCase
	for _, s := range specs {
		layers, err := layersOf(s.arch, s.depth, s.probes...)
		if err != nil {
			return nil, err
		}
		out = append(out, parityCase{Name: s.arch + "/" + s.name, Arch: s.arch, Height: s.h, Width: s.w, Batch: s.batch, Layers: layers, Float64: s.float64})
	}
	out = append(out,
		parityCase{Name: "densenet121_legacy/64", Arch: "densenet121", Height: 64, Width: 64, Batch: 1, Legacy: true, Seed: 1,
			Layers: []string{"features.denseblock1.denselayer1.norm1", "features.denseblock3.denselayer24", "features.norm5", "classifier"}},
		parityCase{Name: "squeezenet1_1_c10/64", Arch: "squeezenet1_1", Height: 64, Width: 64, Batch: 1, NumClasses: 10, Seed: 2,
			Layers: []string{"classifier.1", "flatten"}},
	)
	return out, nil
})

// fixtures are every case's fixture, made in one run of make_parity.py,
// with the cases, by name.
type fixtures map[string]struct {
	f *sdktest.Fixture
	c parityCase
}

func makeFixtures(t *testing.T) fixtures {
	t.Helper()
	cs, err := cases()
	if err != nil {
		t.Fatal(err)
	}
	args := make([][]string, len(cs))
	for i, c := range cs {
		args[i] = c.args()
	}
	fs := sdktest.MakeFixtures(t, "testdata/make_parity.py", args)
	out := fixtures{}
	for i, c := range cs {
		out[c.Name] = struct {
			f *sdktest.Fixture
			c parityCase
		}{fs[i], c}
	}
	return out
}

// fixture returns the fixture of case name, and the case.
func (fs fixtures) fixture(t *testing.T, name string) (*sdktest.Fixture, parityCase) {
	t.Helper()
	x, ok := fs[name]
	if !ok {
		t.Fatalf("no parity case %s", name)
	}
	return x.f, x.c
}

// functionalLayers are the layers that are torchvision function calls,
// not modules, named as torch.fx names them.
var functionalLayers = []string{"relu", "adaptive_avg_pool2d", "flatten"}

// TestTorch compares the nets with torchvision on fixtures that one run
// of make_parity.py makes: parity of every arch's layers, the layer names
// against torch.fx's, and checkpoints with legacy keys or options set by
// their shapes.
func TestTorch(t *testing.T) {
	needORT(t)
	fixtures := makeFixtures(t)
	t.Run("Parity", func(t *testing.T) { testParity(t, fixtures) })
	t.Run("FXNames", func(t *testing.T) { testFXNames(t, fixtures) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, fixtures) })
}

// testParity compares every arch's layers with torchvision's forward
// hooks on the same weights and input (1e-4 scaled, and with a float64
// run no further from it than PyTorch float32), loading with no options
// (num_classes read from the checkpoint), and the layers and params with
// torch's named_modules and named_parameters.
func testParity(t *testing.T, fixtures fixtures) {
	cs, err := cases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Legacy || c.NumClasses != 0 {
			continue // TestCheckpoints
		}
		t.Run(c.Name, func(t *testing.T) {
			f, _ := fixtures.fixture(t, c.Name)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.Arch, WeightsPath: f.Weights(), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.Arch, err)
			}
			defer m.Close()
			f.Check(t, m, c.Layers)
			f.CheckCoverage(t, m, functionalLayers...)
		})
	}
}

// testFXNames checks that every module name torchvision's feature
// extraction (get_graph_node_names, eval mode) lists is a layer, and
// that every layer that is not a torch module is a torch.fx node name.
func testFXNames(t *testing.T, fixtures fixtures) {
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			name := a.name + "/224"
			if strings.HasPrefix(a.name, "densenet") && a.name != "densenet121" {
				name = a.name + "/97x67"
			}
			f, _ := fixtures.fixture(t, name)
			b, err := os.ReadFile(filepath.Join(f.Dir, "fx.json"))
			if err != nil {
				t.Fatal(err)
			}
			var fx struct {
				Eval []string `json:"eval"`
			}
			if err := json.Unmarshal(b, &fx); err != nil || len(fx.Eval) == 0 {
				t.Fatalf("fx.json: %v, %d names", err, len(fx.Eval))
			}
			ours := newNet(t, a.name, nil).Build([]int64{-1, 3, 224, 224}).LayerNames()
			modules := map[string]bool{}
			for _, mod := range f.Modules {
				modules[mod[0]] = true
			}
			for _, n := range fx.Eval {
				switch {
				case modules[n]:
					if !slices.Contains(ours, n) {
						t.Errorf("torch.fx module node %s is not a layer", n)
					}
				case n == "x" || strings.HasSuffix(n, ".cat"):
					// the input, and torch.cat inside Fire, _DenseLayer and
					// _DenseBlock, whose values are the module's output or
					// the concatenation a _DenseLayer's norm1 takes
				case !slices.Contains(ours, n):
					t.Errorf("torch.fx node %s is not a layer", n)
				}
			}
			for _, l := range ours {
				if !modules[l] && !slices.Contains(fx.Eval, l) {
					t.Errorf("layer %s is neither a torch module nor a torch.fx node", l)
				}
			}
		})
	}
}

// testCheckpoints loads a densenet121 checkpoint with the key names of
// checkpoints saved before torch 0.4 (as torchvision's own download is,
// renamed by Arch.Adapt as torchvision renames them) and a 10-class
// squeezenet1_1, both with no options and compared with torch; and
// checks the errors for options that contradict a checkpoint and for a
// checkpoint of another arch, which names the arch.
func testCheckpoints(t *testing.T, fixtures fixtures) {
	ctx := context.Background()
	load := func(arch string, opts map[string]string, f *sdktest.Fixture) (sdk.Model, error) {
		return New().Load(ctx, &sdk.LoadRequest{Arch: arch, Options: opts, WeightsPath: f.Weights(), Threads: 1})
	}
	for _, name := range []string{"densenet121_legacy/64", "squeezenet1_1_c10/64"} {
		t.Run(name, func(t *testing.T) {
			f, c := fixtures.fixture(t, name)
			m, err := load(c.Arch, nil, f)
			if err != nil {
				t.Fatalf("Load(%s) with no options: %v", c.Arch, err)
			}
			defer m.Close()
			f.Check(t, m, c.Layers)
			f.CheckCoverage(t, m, functionalLayers...)
		})
	}
	legacy, _ := fixtures.fixture(t, "densenet121_legacy/64")
	small, _ := fixtures.fixture(t, "squeezenet1_1_c10/64")
	for _, tc := range []struct {
		arch string
		opts map[string]string
		f    *sdktest.Fixture
		want string
	}{
		{"squeezenet1_1", map[string]string{"num_classes": "1000"}, small, "num_classes=1000 but the checkpoint has 10"},
		{"squeezenet1_0", nil, small, "the checkpoint is a squeezenet1_1 state_dict: load it with arch squeezenet1_1"},
		{"densenet169", nil, legacy, "the checkpoint is a densenet121 state_dict"},
		{"alexnet", nil, legacy, "the checkpoint is a densenet121 state_dict"},
	} {
		m, err := load(tc.arch, tc.opts, tc.f)
		if err == nil {
			m.Close()
			t.Errorf("Load(%s, %v) succeeded; want an error", tc.arch, tc.opts)
			continue
		}
		if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s, %v) = %v; want sdk.ErrWeights saying %q", tc.arch, tc.opts, err, tc.want)
		}
	}
}

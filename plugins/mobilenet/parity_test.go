package mobilenet

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

// probes are the blocks whose every module each arch's parity checks at
// 224x224: blocks with and without expansion, residual,
// squeeze-excitation, stride 2, both ShuffleNet block kinds; late ones
// where they can be, to keep the fixtures small.
var probes = map[string][]string{
	"mobilenet_v2":       {"features.1.conv", "features.14", "features.16"},
	"mobilenet_v3_large": {"features.7", "features.13", "features.14"},
	"mobilenet_v3_small": {"features.1", "features.10"},
	"mnasnet":            {"layers.12.0", "layers.12.3", "layers.13.0"},
	"shufflenet":         {"stage4.0", "stage4.1"},
}

// size is an input size of the parity fixtures.
type size struct {
	name          string
	batch, height int
	width         int
	probes        bool // every module of the probe blocks, and a float64 run
}

// sizes: the default, and a non-square odd size that exercises the
// stride-2 convs' and the max pool's rounding.
var sizes = []size{{"224", 1, 224, 224, true}, {"97x67", 2, 97, 67, false}}

// parityCase is one fixture make_parity.py writes.
type parityCase struct {
	Name          string
	Arch          string
	Height, Width int
	Batch         int
	Layers        []string
	Float64       bool
	NumClasses    int
	V1Stem        bool
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
	if c.V1Stem {
		a = append(a, "--v1-stem")
	}
	return a
}

// parityLayers picks the layers a's parity checks: every layer at most
// one level down (features.N, layers.N, stageN.M, classifier.N, the
// pooled features) and, with probes, every module of the probe blocks.
func parityLayers(a arch, probe bool) ([]string, error) {
	g := a.net(1000, false).Build([]int64{-1, 3, 224, 224})
	if err := g.Err(); err != nil {
		return nil, err
	}
	family := a.name
	for _, f := range []string{"mnasnet", "shufflenet"} {
		if strings.HasPrefix(a.name, f) {
			family = f
		}
	}
	var out []string
	for _, l := range g.LayerNames() {
		in := probe && slices.ContainsFunc(probes[family], func(p string) bool { return l == p || strings.HasPrefix(l, p+".") })
		if strings.Count(l, ".") <= 1 || in {
			out = append(out, l)
		}
	}
	return out, nil
}

// cases lists every fixture: each arch at both sizes, MNASNet 0.5 from a
// version-1 checkpoint, and a 10-class mobilenet_v3_small.
var cases = sync.OnceValues(func() ([]parityCase, error) {
	var out []parityCase
	for _, a := range archs {
		for _, s := range sizes {
			layers, err := parityLayers(a, s.probes)
			if err != nil {
				return nil, err
			}
			out = append(out, parityCase{Name: a.name + "/" + s.name, Arch: a.name, Height: s.height, Width: s.width, Batch: s.batch,
				Layers: layers, Float64: s.probes})
		}
	}
	out = append(out,
		parityCase{Name: "mnasnet0_5_v1/97x67", Arch: "mnasnet0_5", Height: 97, Width: 67, Batch: 2, V1Stem: true, Seed: 1,
			Layers: []string{"layers.0", "layers.7", "layers.8.0", "layers.8", "layers.16", "mean", "classifier.1"}},
		parityCase{Name: "mobilenet_v3_small_c10/64", Arch: "mobilenet_v3_small", Height: 64, Width: 64, Batch: 1, NumClasses: 10, Seed: 2,
			Layers: []string{"avgpool", "classifier.3"}},
	)
	return out, nil
})

// makeFixtures makes every case's fixture in one run of make_parity.py,
// by case name.
func makeFixtures(t *testing.T) map[string]*sdktest.Fixture {
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
	out := make(map[string]*sdktest.Fixture, len(cs))
	for i, c := range cs {
		out[c.Name] = fs[i]
	}
	return out
}

func findCase(t *testing.T, name string) parityCase {
	t.Helper()
	cs, err := cases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no parity case %s", name)
	return parityCase{}
}

// pooledLayers are the layers that are torchvision function calls, not
// modules, named as torch.fx names them.
var pooledLayers = []string{"adaptive_avg_pool2d", "flatten", "mean"}

// TestTorch compares the nets with torchvision on fixtures that one run
// of make_parity.py makes: parity of every arch's layers, the layer names
// against torch.fx's, and checkpoints whose shapes set options.
func TestTorch(t *testing.T) {
	needORT(t)
	fixtures := makeFixtures(t)
	t.Run("Parity", func(t *testing.T) { testParity(t, fixtures) })
	t.Run("FXNames", func(t *testing.T) { testFXNames(t, fixtures) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, fixtures) })
}

// testParity compares every arch's layers with torchvision's forward
// hooks on the same weights and input (1e-4 scaled, and no further from
// a float64 run than PyTorch float32), at 224x224 and at 97x67, loading
// with no options (num_classes read from the checkpoint). At 224 it also
// compares the layers and params with torch's named_modules and
// named_parameters.
func testParity(t *testing.T, fixtures map[string]*sdktest.Fixture) {
	for _, a := range archs {
		for _, s := range sizes {
			name := a.name + "/" + s.name
			t.Run(name, func(t *testing.T) {
				c := findCase(t, name)
				f := fixtures[name]
				m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: a.name, WeightsPath: f.Weights(), Threads: 2})
				if err != nil {
					t.Fatalf("Load(%s): %v", a.name, err)
				}
				defer m.Close()
				f.Check(t, m, c.Layers)
				if s.name == "224" {
					f.CheckCoverage(t, m, neverCalled(f, m)...)
				}
			})
		}
	}
}

// neverCalled lists the torch modules the forward pass never calls
// (ShuffleNetV2's empty branch1 in stride-1 blocks) and the pooled
// layers that are function calls: the names CheckCoverage skips. A
// module listed here that has children or is a layer fails the caller's
// check, as CheckCoverage then misses it.
func neverCalled(f *sdktest.Fixture, m sdk.Model) []string {
	skip := slices.Clone(pooledLayers)
	for _, mod := range f.Modules {
		if mod[1] == "Sequential" && strings.HasSuffix(mod[0], ".branch1") && !slices.ContainsFunc(f.Modules, func(o [2]string) bool {
			return strings.HasPrefix(o[0], mod[0]+".")
		}) {
			skip = append(skip, mod[0])
		}
	}
	return skip
}

// testFXNames checks that every module name torchvision's feature
// extraction (get_graph_node_names, eval mode) lists is a layer, and
// that every layer that is not a torch module is a torch.fx node name.
// torch.fx cannot trace torchvision 0.14's ShuffleNetV2 (channel_shuffle
// unpacks x.size()); its names are checked against named_modules by
// the parity test alone.
func testFXNames(t *testing.T, fixtures map[string]*sdktest.Fixture) {
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			f := fixtures[a.name+"/224"]
			b, err := os.ReadFile(filepath.Join(f.Dir, "fx.json"))
			if err != nil {
				t.Fatal(err)
			}
			var fx struct {
				Eval  []string `json:"eval"`
				Error string   `json:"error"`
			}
			if err := json.Unmarshal(b, &fx); err != nil {
				t.Fatal(err)
			}
			if fx.Error != "" {
				if !strings.HasPrefix(a.name, "shufflenet") {
					t.Fatalf("get_graph_node_names(%s): %s", a.name, fx.Error)
				}
				t.Logf("torch.fx cannot trace %s: %s", a.name, fx.Error)
				return
			}
			g := newNet(t, a.name, nil).Build([]int64{-1, 3, 224, 224})
			ours := g.LayerNames()
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
				case n == "x" || n == "add" || strings.HasSuffix(n, ".add"):
					// the input and residual additions, whose values are
					// the input's and the block's
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

// testCheckpoints loads checkpoints whose shapes set options: a
// 10-class mobilenet_v3_small, and an MNASNet 0.5 saved with version 1's
// stem (loaded by torchvision's own legacy path in the fixture), both
// compared with torch; and the errors for options that contradict a
// checkpoint and for a checkpoint of another arch, which names the arch.
func testCheckpoints(t *testing.T, fixtures map[string]*sdktest.Fixture) {
	ctx := context.Background()
	load := func(arch string, opts map[string]string, f *sdktest.Fixture) (sdk.Model, error) {
		return New().Load(ctx, &sdk.LoadRequest{Arch: arch, Options: opts, WeightsPath: f.Weights(), Threads: 1})
	}
	for _, name := range []string{"mobilenet_v3_small_c10/64", "mnasnet0_5_v1/97x67"} {
		t.Run(name, func(t *testing.T) {
			c := findCase(t, name)
			f := fixtures[name]
			m, err := load(c.Arch, nil, f)
			if err != nil {
				t.Fatalf("Load(%s) with no options: %v", c.Arch, err)
			}
			defer m.Close()
			f.Check(t, m, c.Layers)
			f.CheckCoverage(t, m, pooledLayers...)
		})
	}
	small := fixtures["mobilenet_v3_small_c10/64"]
	v1 := fixtures["mnasnet0_5_v1/97x67"]
	shuffle := fixtures["shufflenet_v2_x0_5/97x67"]
	for _, tc := range []struct {
		arch string
		opts map[string]string
		f    *sdktest.Fixture
		want string
	}{
		{"mobilenet_v3_small", map[string]string{"num_classes": "1000"}, small, "num_classes=1000 but the checkpoint has 10"},
		{"mnasnet0_5", map[string]string{"v1_stem": "false"}, v1, "v1_stem=false but the checkpoint has true"},
		{"mobilenet_v3_large", nil, small, "the checkpoint is a mobilenet_v3_small state_dict: load it with arch mobilenet_v3_small"},
		{"mnasnet0_75", nil, v1, "the checkpoint is a mnasnet0_5 state_dict"},
		{"mnasnet1_0", nil, shuffle, "the checkpoint is a shufflenet_v2_x0_5 state_dict"},
		{"shufflenet_v2_x1_0", nil, shuffle, "the checkpoint is a shufflenet_v2_x0_5 state_dict"},
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

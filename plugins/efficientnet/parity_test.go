package efficientnet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// fixtures holds every fixture of this package's tests, written by one
// run of make_parity.py (TestMain sets it up once flags are parsed, as
// -short picks fewer).
var fixtures *sdktest.FixtureSet

func TestMain(m *testing.M) {
	flag.Parse()
	fixtures = sdktest.NewFixtureSet("testdata/make_parity.py", fixtureSpecs()...)
	code := m.Run()
	if err := fixtures.Remove(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
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

// parityCase is one fixture with random weights compared layer by layer:
// every arch that a test can afford, at a small non-square size, and B0
// and V2-S at their default sizes too. The deep ones are also compared
// with a float64 run.
type parityCase struct {
	arch    string
	h, w    int
	batch   int
	classes int
	f64     bool
	short   bool
}

var parityCases = []parityCase{
	{"efficientnet_b0", 224, 224, 2, 1000, false, false},
	{"efficientnet_b0", 160, 224, 2, 10, false, true},
	{"efficientnet_b1", 160, 128, 2, 1000, false, false},
	{"efficientnet_b2", 128, 160, 2, 1000, false, false},
	{"efficientnet_b3", 128, 96, 2, 1000, true, false},
	{"efficientnet_b4", 96, 128, 2, 1000, true, false},
	{"efficientnet_b5", 128, 96, 1, 1000, true, false},
	{"efficientnet_b6", 96, 64, 1, 1000, true, false},
	{"efficientnet_v2_s", 384, 384, 1, 1000, false, false},
	{"efficientnet_v2_s", 128, 160, 2, 1000, true, false},
	{"efficientnet_v2_m", 96, 128, 1, 1000, true, false},
}

func (c parityCase) name() string { return fmt.Sprintf("%s/%dx%d", c.arch, c.h, c.w) }

// fixtureSpecs lists make_parity.py's fixtures: the parity cases (those
// of -short only under -short) and a shapes-only fixture of every arch at
// its default size.
func fixtureSpecs() []string {
	var args []string
	for _, c := range parityCases {
		if testing.Short() && !c.short {
			continue
		}
		args = append(args, sdktest.Spec{Name: c.name(), Arch: c.arch, H: c.h, W: c.w, Batch: c.batch, NumClasses: c.classes,
			Layers: parityLayers(archNamed(c.arch)), Float64: c.f64}.Arg())
	}
	for _, a := range archs {
		args = append(args, sdktest.Spec{Name: a.name + "/meta", Arch: a.name, H: int(a.size), W: int(a.size), Meta: true}.Arg())
	}
	return args
}

func archNamed(name string) arch {
	for _, a := range archs {
		if a.name == name {
			return a
		}
	}
	panic("no arch " + name)
}

// parityLayers are the layers compared: the stem (and its BatchNorm),
// every stage, the last conv, the pool and the classifier, and inside
// blocks: the first blocks' convs, a residual block with its
// stochastic_depth, and an MBConv's depthwise activation and
// squeeze-excitation.
func parityLayers(a arch) []string {
	n := len(a.stages)
	ls := []string{"features.0.1", "features.0"}
	for i := 1; i <= n+1; i++ {
		ls = append(ls, "features."+strconv.Itoa(i))
	}
	ls = append(ls, "features.1.0.block.0", "features.2.0.block.0", "features.2.1.stochastic_depth", "features.2.1",
		"features.4.0.block.1.2", "features.4.0.block.2.activation", "features.4.0.block.2.scale_activation", "features.4.0.block.2",
		"avgpool", "classifier.0", "classifier")
	return ls
}

// TestParity compares the layers of every parity case with torchvision's
// forward hooks on the same weights and input (sdktest.Fixture.Check:
// 1e-4 scaled, and no further from a float64 run than PyTorch float32
// for the deep ones), and the model's layers and parameters with
// torchvision's named_modules and named_parameters.
func TestParity(t *testing.T) {
	needORT(t)
	for _, c := range parityCases {
		t.Run(c.name(), func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs efficientnet_b0 at one size only")
			}
			f := fixtures.Get(t, c.name())
			meta := fixtures.Get(t, c.arch+"/meta")
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, WeightsPath: f.Weights(), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			f.Check(t, m, parityLayers(archNamed(c.arch)))
			f.CheckCoverage(t, m, meta.Uncalled...)
		})
	}
}

// TestCoverage compares every arch's layers (names, classes and shapes
// at its default size) and parameters (names, shapes, order) with
// torchvision's, built on the meta device. The modules a forward never
// calls are the stochastic_depth of blocks without a residual.
func TestCoverage(t *testing.T) {
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			f := fixtures.Get(t, a.name+"/meta")
			for _, u := range f.Uncalled {
				if !strings.HasSuffix(u, ".stochastic_depth") {
					t.Errorf("torch never calls %s; want only stochastic_depth modules uncalled", u)
				}
			}
			if len(f.Uncalled) == 0 {
				t.Error("torch calls every stochastic_depth; want those of blocks without a residual uncalled")
			}
			f.CheckGraph(t, newNet(t, a.name, nil))
		})
	}
}

// TestLoadMismatch checks the errors for a checkpoint of another arch
// (naming the arch it is) and for a num_classes that contradicts it,
// and that num_classes is read from the checkpoint when not given.
func TestLoadMismatch(t *testing.T) {
	f := fixtures.Get(t, "efficientnet_b0/160x224") // num_classes 10
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"efficientnet_b1", nil, []string{"missing", "the checkpoint is a efficientnet_b0 state_dict: load it with arch efficientnet_b0"}, false},
		{"efficientnet_v2_s", nil, []string{"the checkpoint is a efficientnet_b0 state_dict"}, false},
		{"efficientnet_b0", map[string]string{"num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 10"}, false},
		{"efficientnet_b0", map[string]string{"num_classes": "10"}, nil, true},
		{"efficientnet_b0", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.arch, tc.options), func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: f.Weights()})
			if tc.ok {
				if err != nil {
					t.Fatalf("Load = %v; want success", err)
				}
				m.Close()
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Load(%s with efficientnet_b0 weights) succeeded; want an error", tc.arch)
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

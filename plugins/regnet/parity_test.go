package regnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// parityCase is one fixture with random weights compared layer by layer:
// the X and Y archs up to 8gf, regnet_y_400mf at its default size and at
// a non-square one, the others at small non-square sizes; the deep ones
// are also compared with a float64 run. 16gf, 32gf and 128gf (84M to
// 645M parameters) are compared by their graphs only (TestCoverage).
type parityCase struct {
	arch    string
	h, w    int
	batch   int
	classes int
	f64     bool
	short   bool
}

var parityCases = []parityCase{
	{"regnet_y_400mf", 224, 224, 2, 1000, false, false},
	{"regnet_y_400mf", 160, 192, 2, 10, false, true},
	{"regnet_x_400mf", 128, 160, 2, 1000, false, false},
	{"regnet_y_800mf", 96, 128, 2, 1000, false, false},
	{"regnet_x_800mf", 128, 96, 2, 1000, false, false},
	{"regnet_y_1_6gf", 96, 128, 2, 1000, true, false},
	{"regnet_x_1_6gf", 128, 96, 2, 1000, true, false},
	{"regnet_y_3_2gf", 96, 64, 1, 1000, true, false},
	{"regnet_x_3_2gf", 64, 96, 1, 1000, true, false},
	{"regnet_y_8gf", 96, 64, 1, 1000, true, false},
	{"regnet_x_8gf", 64, 96, 1, 1000, true, false},
}

func (c parityCase) name() string { return fmt.Sprintf("%s/%dx%d", c.arch, c.h, c.w) }

// fixtureSpecs lists make_parity.py's fixtures: the parity cases (those
// of -short only under -short) and a shapes-only fixture of every arch at
// 224x224.
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
		args = append(args, sdktest.Spec{Name: a.name + "/meta", Arch: a.name, H: 224, W: 224, Meta: true}.Arg())
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
// every stage and the trunk, the pool and fc, and inside blocks: the
// first block's projection and convs, a block without projection (its
// transform and final ReLU) and, for RegNetY, a squeeze-excitation.
func parityLayers(a arch) []string {
	ls := []string{"stem.1", "stem"}
	for i := range a.stages() {
		ls = append(ls, "trunk_output.block"+strconv.Itoa(i+1))
	}
	ls = append(ls, "trunk_output", "trunk_output.block1.block1-0.proj", "trunk_output.block1.block1-0.f.a",
		"trunk_output.block1.block1-0.f.b.2", "trunk_output.block2.block2-1.f", "trunk_output.block2.block2-1.activation",
		"trunk_output.block2.block2-1", "avgpool", "fc")
	if a.se {
		ls = append(ls, "trunk_output.block2.block2-0.f.se.activation", "trunk_output.block2.block2-0.f.se.scale_activation",
			"trunk_output.block2.block2-0.f.se")
	}
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
				t.Skip("-short runs regnet_y_400mf at one size only")
			}
			f := fixtures.Get(t, c.name())
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, WeightsPath: f.Weights(), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			f.Check(t, m, parityLayers(archNamed(c.arch)))
			f.CheckCoverage(t, m)
		})
	}
}

// TestCoverage compares every arch's layers (names, classes and shapes
// at 224x224) and parameters (names, shapes, order) with torchvision's,
// built on the meta device, regnet_y_128gf's 645M parameters included.
func TestCoverage(t *testing.T) {
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			f := fixtures.Get(t, a.name+"/meta")
			if len(f.Uncalled) > 0 {
				t.Errorf("torch never calls %v; RegNet calls every module", f.Uncalled)
			}
			f.CheckGraph(t, newNet(t, a.name, nil))
		})
	}
}

// TestLoadMismatch checks the errors for a checkpoint of another arch
// (naming the arch it is) and for a num_classes that contradicts it,
// and that num_classes is read from the checkpoint when not given.
func TestLoadMismatch(t *testing.T) {
	f := fixtures.Get(t, "regnet_y_400mf/160x192") // num_classes 10
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"regnet_y_800mf", nil, []string{"size mismatch", "the checkpoint is a regnet_y_400mf state_dict: load it with arch regnet_y_400mf"}, false},
		{"regnet_x_400mf", nil, []string{"unexpected", "the checkpoint is a regnet_y_400mf state_dict"}, false},
		{"regnet_y_400mf", map[string]string{"num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 10"}, false},
		{"regnet_y_400mf", map[string]string{"num_classes": "10"}, nil, true},
		{"regnet_y_400mf", nil, nil, true},
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
				t.Fatalf("Load(%s with regnet_y_400mf weights) succeeded; want an error", tc.arch)
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

package sdktest_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestMetaFixture reads a shapes-only fixture of a model with 4 Gi
// weights, built on the meta device: every called module's shape, the
// uncalled module, and the parameters.
func TestMetaFixture(t *testing.T) {
	f := sdktest.MakeFixture(t, "testdata/meta_fixture.py")
	want := map[string][]int64{"conv": {1, 4, 5, 4}, "bn": {1, 4, 5, 4}, "pool": {1, 4, 1, 1}, "fc": {1, 1 << 30}}
	if len(f.Outputs) != len(want) {
		t.Errorf("Outputs = %v; want %v", f.Outputs, want)
	}
	for name, shape := range want {
		if !slices.Equal(f.Outputs[name], shape) {
			t.Errorf("Outputs[%s] = %v; want %v", name, f.Outputs[name], shape)
		}
	}
	if !slices.Equal(f.Uncalled, []string{"spare"}) {
		t.Errorf("Uncalled = %v; want [spare]", f.Uncalled)
	}
	if len(f.Modules) != 5 || f.Modules[2] != [2]string{"spare", "ReLU"} {
		t.Errorf("Modules = %v; want conv, bn, spare (ReLU), pool, fc", f.Modules)
	}
	if len(f.Params) != 6 || f.Params[4].Name != "fc.weight" || !slices.Equal(f.Params[4].Shape, []int64{1 << 30, 4}) {
		t.Errorf("Params = %v; want fc.weight [1073741824, 4] fifth of six", f.Params)
	}
	if !slices.Equal(f.Input, []int64{1, 3, 9, 7}) {
		t.Errorf("Input = %v; want [1 3 9 7]", f.Input)
	}
}

// metaNet mirrors Net in testdata/meta_fixture.py, whose fc is over the
// size limit.
type metaNet struct{}

func (metaNet) DefaultInput() []int64 { return []int64{-1, 3, 9, 7} }

func (metaNet) Build(in []int64) *nn.Builder {
	b := nn.NewBuilder("Net")
	x := b.Input("input", in, 0)
	x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), Bias: true})
	x = b.BatchNorm2d("bn", x, 4)
	x = b.AdaptiveAvgPool2d("pool", x, nn.P(1))
	b.Linear("fc", b.Flatten("", x), 4, 1<<30, true)
	return b
}

// TestCheckGraph compares a graph over the size limit with its
// shapes-only fixture through GraphModel, which answers Layers and Params
// and refuses the rest.
func TestCheckGraph(t *testing.T) {
	f := sdktest.MakeFixture(t, "testdata/meta_fixture.py")
	f.CheckGraph(t, metaNet{})
	m := sdktest.GraphModel(metaNet{})
	if _, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 9, 7)}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("GraphModel Extract = %v; want sdk.ErrUnsupported", err)
	}
	ls, err := m.Layers(context.Background(), &sdk.LayersRequest{InputShape: []int64{5, 3, 33, 17}})
	if err != nil || len(ls) != 4 || !slices.Equal(ls[0].Shape, []int64{-1, 4, 17, 9}) {
		t.Errorf("GraphModel Layers([5, 3, 33, 17]) = %v, %v; want 4 layers, conv [-1, 4, 17, 9]", ls, err)
	}
}

func TestSpecArg(t *testing.T) {
	got := sdktest.Spec{Name: "a/1", Arch: "resnet18", H: 32, W: 48, Layers: []string{"fc", "avgpool"}, Float64: true}.Arg()
	if want := "name=a/1 arch=resnet18 h=32 w=48 batch=2 seed=0 classes=1000 layers=fc,avgpool f64"; got != want {
		t.Errorf("Arg() = %q; want %q", got, want)
	}
	got = sdktest.Spec{Name: "m", Arch: "vgg11", H: 224, W: 224, NumClasses: 10, Batch: 1, Seed: 3, Meta: true}.Arg()
	if want := "name=m arch=vgg11 h=224 w=224 batch=1 seed=3 classes=10 meta"; got != want {
		t.Errorf("Arg() = %q; want %q", got, want)
	}
}

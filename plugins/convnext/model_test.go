package convnext

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// newNet configures arch with the given options (nil: defaults).
func newNet(t *testing.T, arch string, opts map[string]string) backbone.Net {
	t.Helper()
	for i := range Family.Archs {
		if a := &Family.Archs[i]; a.Name == arch {
			o, err := backbone.NewOptions(a, opts)
			if err != nil {
				t.Fatal(err)
			}
			n, err := a.New(o)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no arch %s", arch)
	return nil
}

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) {
			t.Errorf("%s input %v; want [-1, 3, 224, 224]", a.Name, a.Input.Shape)
		}
	}
	if want := "convnext_tiny convnext_small convnext_base convnext_large"; strings.Join(names, " ") != want || d.Name != "convnext" {
		t.Errorf("Describe = %s %v; want convnext %s", d.Name, names, want)
	}
}

// TestParamCounts checks every arch's parameter total against
// torchvision's num_params (its weights' metadata), without weights.
func TestParamCounts(t *testing.T) {
	for arch, want := range map[string]int64{
		"convnext_tiny": 28589128, "convnext_small": 50223688, "convnext_base": 88591464, "convnext_large": 197767336,
	} {
		b := newNet(t, arch, nil).Build([]int64{-1, 3, 224, 224})
		if err := b.Err(); err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		var n int64
		for _, p := range b.Params() {
			n += sdk.NumElements(p.Shape)
		}
		if n != want {
			t.Errorf("%s: %d parameters; torchvision's has %d", arch, n, want)
		}
	}
}

// TestLayerShapes checks the shapes Layers reports at two sizes,
// including odd sizes the stem and downsampling floor.
func TestLayerShapes(t *testing.T) {
	for _, tc := range []struct {
		input []int64
		layer string
		shape []int64
	}{
		{[]int64{-1, 3, 224, 224}, "features.0", []int64{-1, 96, 56, 56}},
		{[]int64{-1, 3, 224, 224}, "features.1.0.block.3", []int64{-1, 56, 56, 384}},
		{[]int64{-1, 3, 224, 224}, "features.7", []int64{-1, 768, 7, 7}},
		{[]int64{-1, 3, 224, 224}, "classifier.1", []int64{-1, 768}},
		{[]int64{-1, 3, 97, 131}, "features.2", []int64{-1, 192, 12, 16}},
		{[]int64{-1, 3, 97, 131}, "features.7", []int64{-1, 768, 3, 4}},
		{[]int64{-1, 3, 97, 131}, "classifier.2", []int64{-1, 5}},
	} {
		b := newNet(t, "convnext_tiny", map[string]string{"num_classes": "5"}).Build(tc.input)
		l, err := b.Layer(tc.layer)
		if err != nil {
			t.Fatal(err)
		}
		if !sdk.EqualShape(l.Shape, tc.shape) {
			t.Errorf("Layer(%q) at %v = %v; want %v", tc.layer, tc.input, l.Shape, tc.shape)
		}
	}
}

// TestBadInput: images under 32x32 or without 3 channels are
// sdk.ErrBadInput errors that say what to give.
func TestBadInput(t *testing.T) {
	needORT(t)
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "convnext_tiny", Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct {
		shape []int64
		want  string
	}{
		{[]int64{1, 3, 31, 64}, "at least 32"},
		{[]int64{1, 1, 64, 64}, "[N, 3, H, W]"},
	} {
		_, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: sdk.Zeros(tc.shape...)})
		if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Extract(%v) = %v; want sdk.ErrBadInput saying %q", tc.shape, err, tc.want)
		}
	}
	resp, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: sdk.Zeros(2, 3, 32, 40)})
	if err != nil {
		t.Fatalf("Extract at 32x40: %v", err)
	}
	if got := resp.Outputs["classifier.2"]; got == nil || !sdk.EqualShape(got.Shape, []int64{2, 3}) {
		t.Errorf("default output at 32x40 = %v; want classifier.2 [2, 3]", got)
	}
}

// TestWrongVariant: another variant's checkpoint is an sdk.ErrWeights
// error naming the arch to load it with.
func TestWrongVariant(t *testing.T) {
	tiny := map[string]*sdk.Tensor{}
	b := newNet(t, "convnext_tiny", nil).Build([]int64{-1, 3, 224, 224})
	for _, s := range b.Specs() {
		tiny[s.Name] = &sdk.Tensor{Shape: s.Shape}
	}
	if h := newNet(t, "convnext_small", nil).(*net).Hint(tiny); !strings.Contains(h, "--arch convnext_tiny") {
		t.Errorf("Hint(convnext_tiny's keys) for convnext_small = %q; want it to name convnext_tiny", h)
	}
	if testing.Short() {
		return
	}
	needORT(t)
	path := sdktest.WriteCheckpoint(t, nn.RandomWeights(b.Specs(), 1).StateDict())
	_, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "convnext_small", WeightsPath: path, Threads: 1})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "--arch convnext_tiny") {
		t.Errorf("Load(convnext_small, convnext_tiny's weights) = %v; want sdk.ErrWeights naming convnext_tiny", err)
	}
}

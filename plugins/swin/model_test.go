package swin

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
	if want := "swin_t swin_s swin_b"; strings.Join(names, " ") != want || d.Name != "swin" {
		t.Errorf("Describe = %s %v; want swin %s", d.Name, names, want)
	}
}

// TestParamCounts checks every arch's parameter total against
// torchvision's num_params (its weights' metadata), without weights.
func TestParamCounts(t *testing.T) {
	for arch, want := range map[string]int64{"swin_t": 28288354, "swin_s": 49606258, "swin_b": 87768224} {
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

// TestLayerShapes checks the shapes Layers reports, channels-last as
// torch's, at sizes that pad and floor.
func TestLayerShapes(t *testing.T) {
	for _, tc := range []struct {
		input []int64
		layer string
		shape []int64
	}{
		{[]int64{-1, 3, 224, 224}, "features.0", []int64{-1, 56, 56, 96}},
		{[]int64{-1, 3, 224, 224}, "features.1.1.attn.qkv", []int64{-1, 49, 288}},
		{[]int64{-1, 3, 224, 224}, "features.7", []int64{-1, 7, 7, 768}},
		{[]int64{-1, 3, 224, 224}, "permute", []int64{-1, 768, 7, 7}},
		{[]int64{-1, 3, 224, 224}, "flatten", []int64{-1, 768}},
		{[]int64{-1, 3, 98, 131}, "features.1", []int64{-1, 24, 32, 96}},
		{[]int64{-1, 3, 98, 131}, "features.2", []int64{-1, 12, 16, 192}},
		{[]int64{-1, 3, 98, 131}, "features.6", []int64{-1, 3, 4, 768}},
		{[]int64{-1, 3, 4, 4}, "features.7", []int64{-1, 1, 1, 768}},
		{[]int64{-1, 3, 98, 131}, "head", []int64{-1, 5}},
	} {
		b := newNet(t, "swin_t", map[string]string{"num_classes": "5"}).Build(tc.input)
		l, err := b.Layer(tc.layer)
		if err != nil {
			t.Fatal(err)
		}
		if !sdk.EqualShape(l.Shape, tc.shape) {
			t.Errorf("Layer(%q) at %v = %v; want %v", tc.layer, tc.input, l.Shape, tc.shape)
		}
	}
}

// TestBadInput: images under 4x4 or without 3 channels are
// sdk.ErrBadInput errors that say what to give; a 4x4 image runs.
func TestBadInput(t *testing.T) {
	needORT(t)
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "swin_t", Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct {
		shape []int64
		want  string
	}{
		{[]int64{1, 3, 3, 64}, "at least 4 (the patch size)"},
		{[]int64{1, 1, 64, 64}, "[N, 3, H, W]"},
	} {
		_, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: sdk.Zeros(tc.shape...)})
		if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Extract(%v) = %v; want sdk.ErrBadInput saying %q", tc.shape, err, tc.want)
		}
	}
	resp, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: sdk.Zeros(2, 3, 4, 9)})
	if err != nil {
		t.Fatalf("Extract at 4x9: %v", err)
	}
	if got := resp.Outputs["head"]; got == nil || !sdk.EqualShape(got.Shape, []int64{2, 3}) {
		t.Errorf("default output at 4x9 = %v; want head [2, 3]", got)
	}
}

// TestCheckpointErrors: another variant's checkpoint names the arch to
// load it with; a relative_position_index that is not torchvision's is
// an sdk.ErrWeights error.
func TestCheckpointErrors(t *testing.T) {
	b := newNet(t, "swin_t", map[string]string{"num_classes": "4"}).Build([]int64{-1, 3, 224, 224})
	sd := nn.RandomWeights(b.Specs(), 1).StateDict()
	for k := range sd {
		if strings.HasSuffix(k, ".relative_position_index") {
			sd[k] = &sdk.Tensor{Shape: []int64{49 * 49}, Int64: nn.RelativePositionIndex(window, window)}
		}
	}
	if h := newNet(t, "swin_s", nil).(*net).Hint(sd); !strings.Contains(h, "--arch swin_t") {
		t.Errorf("Hint(swin_t's keys) for swin_s = %q; want it to name swin_t", h)
	}
	n := newNet(t, "swin_t", nil).(*net)
	if err := n.CheckWeights(sd); err != nil {
		t.Errorf("CheckWeights(torchvision's index) = %v", err)
	}
	bad := append([]int64(nil), sd["features.1.0.attn.relative_position_index"].Int64...)
	bad[5]++
	sd["features.1.0.attn.relative_position_index"] = &sdk.Tensor{Shape: []int64{49 * 49}, Int64: bad}
	if err := n.CheckWeights(sd); !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "features.1.0.attn.relative_position_index") {
		t.Errorf("CheckWeights(another index) = %v; want sdk.ErrWeights naming the buffer", err)
	}
	if testing.Short() {
		return
	}
	needORT(t)
	path := sdktest.WriteCheckpoint(t, sd)
	_, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "swin_t", WeightsPath: path, Threads: 1})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "relative_position_index") {
		t.Errorf("Load(swin_t, another index) = %v; want sdk.ErrWeights naming the buffer", err)
	}
}

package efficientnet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "efficientnet" || !d.Capabilities.Extract || d.Capabilities.Train || !d.Capabilities.Export {
		t.Errorf("Describe = %+v", d)
	}
	sizes := map[string]int64{"efficientnet_b0": 224, "efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300,
		"efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600,
		"efficientnet_v2_s": 384, "efficientnet_v2_m": 480, "efficientnet_v2_l": 480}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		s := sizes[a.Name]
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, s, s}) || len(a.Options) != 2 || a.Options[0].Name != "num_classes" || a.Options[1].Name != bridge.PrefixOption {
			t.Errorf("arch %s = %+v; want input [-1, 3, %d, %d], options num_classes and %s", a.Name, a, s, s, bridge.PrefixOption)
		}
	}
	want := "efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3 efficientnet_b4 efficientnet_b5 efficientnet_b6 efficientnet_b7 efficientnet_v2_s efficientnet_v2_m efficientnet_v2_l"
	if strings.Join(names, " ") != want {
		t.Errorf("archs = %v; want %s", names, want)
	}
}

// TestParamCounts checks every arch's parameter count against the
// num_params torchvision's weights enums record.
func TestParamCounts(t *testing.T) {
	want := map[string]int64{
		"efficientnet_b0": 5288548, "efficientnet_b1": 7794184, "efficientnet_b2": 9109994, "efficientnet_b3": 12233232,
		"efficientnet_b4": 19341616, "efficientnet_b5": 30389784, "efficientnet_b6": 43040704, "efficientnet_b7": 66347960,
		"efficientnet_v2_s": 21458488, "efficientnet_v2_m": 54139356, "efficientnet_v2_l": 118515272,
	}
	for _, a := range archs {
		n := newNet(t, a.name, nil)
		b := n.Build(n.DefaultInput())
		if err := b.Err(); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		var got int64
		for _, p := range b.Params() {
			got += sdk.NumElements(p.Shape)
		}
		if got != want[a.name] {
			t.Errorf("%s has %d parameters; torchvision's has %d", a.name, got, want[a.name])
		}
	}
}

// TestLayerShapes checks Layers without running anything.
func TestLayerShapes(t *testing.T) {
	tests := []struct {
		arch   string
		layer  string
		input  []int64
		shape  []int64
		params int64
	}{
		{"efficientnet_b0", "features.0", nil, []int64{-1, 32, 112, 112}, 32*27 + 64},
		{"efficientnet_b0", "features.8", nil, []int64{-1, 1280, 7, 7}, 320*1280 + 2*1280},
		{"efficientnet_b0", "features.2.1.stochastic_depth", []int64{-1, 3, 160, 224}, []int64{-1, 24, 40, 56}, 0},
		// SE squeezes to a quarter of the block's input channels: 16/4.
		{"efficientnet_b0", "features.2.0.block.2.fc1", nil, []int64{-1, 4, 1, 1}, 96*4 + 4},
		{"efficientnet_b0", "avgpool", []int64{-1, 3, 97, 61}, []int64{-1, 1280, 1, 1}, 0},
		{"efficientnet_b0", "classifier", nil, []int64{-1, 1000}, 1281000},
		{"efficientnet_b7", "features.8", nil, []int64{-1, 2560, 19, 19}, 640*2560 + 2*2560},
		{"efficientnet_v2_s", "features.1.0.block.0", nil, []int64{-1, 24, 192, 192}, 24*24*9 + 48},
		{"efficientnet_v2_s", "features.2.0.block.1", nil, []int64{-1, 48, 96, 96}, 96*48 + 96},
		{"efficientnet_v2_l", "features.8", []int64{-1, 3, 224, 160}, []int64{-1, 1280, 7, 5}, 640*1280 + 2*1280},
	}
	for _, tc := range tests {
		n := newNet(t, tc.arch, nil)
		in := n.DefaultInput()
		if tc.input != nil {
			in = tc.input
		}
		b := n.Build(in)
		if err := b.Err(); err != nil {
			t.Fatalf("%s: %v", tc.arch, err)
		}
		l, err := b.Layer(tc.layer)
		if err != nil {
			t.Errorf("%s: %v", tc.arch, err)
			continue
		}
		if !sdk.EqualShape(l.Shape, tc.shape) || l.Params != tc.params {
			t.Errorf("%s Layers(%v) %s = %v, %d params; want %v, %d", tc.arch, in, tc.layer, l.Shape, l.Params, tc.shape, tc.params)
		}
	}
}

// TestBlocks checks which blocks add their input back (stride 1, equal
// channels, the only ones that call stochastic_depth) and where
// FusedMBConv gives way to MBConv.
func TestBlocks(t *testing.T) {
	for _, tc := range []struct {
		arch       string
		residual   []string
		noResidual []string
		kinds      map[string]string
	}{
		{"efficientnet_b0", []string{"features.2.1", "features.6.3"}, []string{"features.1.0", "features.2.0", "features.5.0", "features.7.0"},
			map[string]string{"features.1.0": "MBConv", "features.1.0.block.1": "SqueezeExcitation", "features.1.0.block.2": "Conv2dNormActivation"}},
		{"efficientnet_v2_s", []string{"features.1.0", "features.1.1", "features.6.14"}, []string{"features.2.0", "features.4.0", "features.5.0"},
			map[string]string{"features.3.3": "FusedMBConv", "features.4.0": "MBConv", "features.4.0.block.2": "SqueezeExcitation", "features.3.3.block.1": "Conv2dNormActivation"}},
	} {
		n := newNet(t, tc.arch, nil)
		ls := n.Build(n.DefaultInput()).Layers()
		kind := map[string]string{}
		for _, l := range ls {
			kind[l.Name] = l.Kind
		}
		for _, name := range tc.residual {
			if kind[name+".stochastic_depth"] != "StochasticDepth" {
				t.Errorf("%s: %s has no stochastic_depth layer; want a residual block", tc.arch, name)
			}
		}
		for _, name := range tc.noResidual {
			if _, ok := kind[name]; !ok {
				t.Errorf("%s: no layer %s", tc.arch, name)
			}
			if _, ok := kind[name+".stochastic_depth"]; ok {
				t.Errorf("%s: %s calls stochastic_depth; torchvision's does not (stride or channels change)", tc.arch, name)
			}
		}
		for name, want := range tc.kinds {
			if kind[name] != want {
				t.Errorf("%s: layer %s kind %q; want %s", tc.arch, name, kind[name], want)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
	}{
		{sdk.LoadRequest{Arch: "efficientnet_b8"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "efficientnet_b0", Options: map[string]string{"num_classes": "0"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "efficientnet_b0", Options: map[string]string{"width_mult": "2"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "efficientnet_b0", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
	}
	for _, tc := range tests {
		if _, err := New().Load(context.Background(), &tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestExtract runs a random efficientnet_b0 on a small non-square batch
// and checks input errors, the default layer and a layer set.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "efficientnet_b0", Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var shapeErr *sdk.ShapeError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 1, 32, 32)}); !errors.As(err, &shapeErr) {
		t.Errorf("Extract(1 channel) = %v; want a *sdk.ShapeError", err)
	}
	var layerErr *sdk.LayerError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 32, 32), Layers: []string{"features.2.0.stochastic_depth"}}); !errors.As(err, &layerErr) {
		t.Errorf("Extract(stochastic_depth of a block without residual) = %v; want a *sdk.LayerError", err)
	}
	x := sdk.Zeros(2, 3, 48, 40)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%23)/11 - 1
	}
	out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
	if err != nil {
		t.Fatal(err)
	}
	if c := out.Outputs["classifier"]; c == nil || !sdk.EqualShape(c.Shape, []int64{2, 7}) {
		t.Fatalf("Extract() = %v; want classifier [2, 7]", out.Outputs)
	}
	set, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"features.3", "avgpool", "classifier"}})
	if err != nil {
		t.Fatal(err)
	}
	if !sdk.EqualShape(set.Outputs["features.3"].Shape, []int64{2, 40, 6, 5}) || !sdk.EqualShape(set.Outputs["avgpool"].Shape, []int64{2, 1280, 1, 1}) {
		t.Errorf("Extract(features.3, avgpool) shapes %v, %v; want [2, 40, 6, 5], [2, 1280, 1, 1]", set.Outputs["features.3"].Shape, set.Outputs["avgpool"].Shape)
	}
	if !slices.Equal(set.Outputs["classifier"].Float32, out.Outputs["classifier"].Float32) {
		t.Error("classifier differs between layer sets")
	}
}

// newNet configures arch with the given options.
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

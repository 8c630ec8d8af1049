package regnet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "regnet" || !d.Capabilities.Extract || d.Capabilities.Train || !d.Capabilities.Export {
		t.Errorf("Describe = %+v", d)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) || len(a.Options) != 2 || a.Options[0].Name != "num_classes" || a.Options[1].Name != bridge.PrefixOption {
			t.Errorf("arch %s = %+v; want input [-1, 3, 224, 224], options num_classes and %s", a.Name, a, bridge.PrefixOption)
		}
	}
	want := "regnet_y_400mf regnet_y_800mf regnet_y_1_6gf regnet_y_3_2gf regnet_y_8gf regnet_y_16gf regnet_y_32gf regnet_y_128gf " +
		"regnet_x_400mf regnet_x_800mf regnet_x_1_6gf regnet_x_3_2gf regnet_x_8gf regnet_x_16gf regnet_x_32gf"
	if strings.Join(names, " ") != want {
		t.Errorf("archs = %v; want %s", names, want)
	}
}

// tvParams is what torchvision's BlockParams.from_init_params gives for
// each arch (widths, depths, group widths) and its weights' num_params.
var tvParams = []struct {
	arch   string
	widths []int64
	depths []int
	groups []int64
	params int64
}{
	{"regnet_y_400mf", []int64{48, 104, 208, 440}, []int{1, 3, 6, 6}, []int64{8, 8, 8, 8}, 4344144},
	{"regnet_y_800mf", []int64{64, 144, 320, 784}, []int{1, 3, 8, 2}, []int64{16, 16, 16, 16}, 6432512},
	{"regnet_y_1_6gf", []int64{48, 120, 336, 888}, []int{2, 6, 17, 2}, []int64{24, 24, 24, 24}, 11202430},
	{"regnet_y_3_2gf", []int64{72, 216, 576, 1512}, []int{2, 5, 13, 1}, []int64{24, 24, 24, 24}, 19436338},
	{"regnet_y_8gf", []int64{224, 448, 896, 2016}, []int{2, 4, 10, 1}, []int64{56, 56, 56, 56}, 39381472},
	{"regnet_y_16gf", []int64{224, 448, 1232, 3024}, []int{2, 4, 11, 1}, []int64{112, 112, 112, 112}, 83590140},
	{"regnet_y_32gf", []int64{232, 696, 1392, 3712}, []int{2, 5, 12, 1}, []int64{232, 232, 232, 232}, 145046770},
	{"regnet_y_128gf", []int64{528, 1056, 2904, 7392}, []int{2, 7, 17, 1}, []int64{264, 264, 264, 264}, 644812894},
	{"regnet_x_400mf", []int64{32, 64, 160, 400}, []int{1, 2, 7, 12}, []int64{16, 16, 16, 16}, 5495976},
	{"regnet_x_800mf", []int64{64, 128, 288, 672}, []int{1, 3, 7, 5}, []int64{16, 16, 16, 16}, 7259656},
	{"regnet_x_1_6gf", []int64{72, 168, 408, 912}, []int{2, 4, 10, 2}, []int64{24, 24, 24, 24}, 9190136},
	{"regnet_x_3_2gf", []int64{96, 192, 432, 1008}, []int{2, 6, 15, 2}, []int64{48, 48, 48, 48}, 15296552},
	{"regnet_x_8gf", []int64{80, 240, 720, 1920}, []int{2, 5, 15, 1}, []int64{80, 120, 120, 120}, 39572648},
	{"regnet_x_16gf", []int64{256, 512, 896, 2048}, []int{2, 6, 13, 1}, []int64{128, 128, 128, 128}, 54278536},
	{"regnet_x_32gf", []int64{336, 672, 1344, 2520}, []int{2, 7, 13, 1}, []int64{168, 168, 168, 168}, 107811560},
}

// TestBlockParams checks the stages computed from each arch's init
// parameters and the parameter count against torchvision's. Only
// regnet_y_128gf is over the per-model limit; its graph still declares
// every parameter.
func TestBlockParams(t *testing.T) {
	if len(tvParams) != len(archs) {
		t.Fatalf("%d archs; the table has %d", len(archs), len(tvParams))
	}
	for i, tc := range tvParams {
		a := archs[i]
		if a.name != tc.arch {
			t.Fatalf("arch %d is %s; want %s", i, a.name, tc.arch)
		}
		var widths, groups []int64
		var depths []int
		for _, s := range a.stages() {
			widths, depths, groups = append(widths, s.out), append(depths, s.depth), append(groups, s.group)
		}
		if !slices.Equal(widths, tc.widths) || !slices.Equal(depths, tc.depths) || !slices.Equal(groups, tc.groups) {
			t.Errorf("%s stages: widths %v depths %v groups %v; torchvision's %v %v %v", a.name, widths, depths, groups, tc.widths, tc.depths, tc.groups)
		}
		n := newNet(t, a.name, nil)
		b := n.Build(n.DefaultInput())
		if err := b.Err(); err != nil && (a.name != "regnet_y_128gf" || !errors.Is(err, nn.ErrTooLarge)) {
			t.Errorf("%s: %v", a.name, err)
		}
		var got int64
		for _, p := range b.Params() {
			got += sdk.NumElements(p.Shape)
		}
		if got != tc.params {
			t.Errorf("%s has %d parameters; torchvision's has %d", a.name, got, tc.params)
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
		kind   string
		params int64
	}{
		{"regnet_y_400mf", "stem", nil, []int64{-1, 32, 112, 112}, "SimpleStemIN", 32*27 + 64},
		{"regnet_y_400mf", "trunk_output.block1", nil, []int64{-1, 48, 56, 56}, "AnyStage", -1},
		{"regnet_y_400mf", "trunk_output.block2.block2-0.proj", nil, []int64{-1, 104, 28, 28}, "Conv2dNormActivation", 48*104 + 208},
		// The SE squeezes to a quarter of the block's input width: 48/4.
		{"regnet_y_400mf", "trunk_output.block2.block2-0.f.se.fc1", nil, []int64{-1, 12, 1, 1}, "Conv2d", 104*12 + 12},
		{"regnet_y_400mf", "trunk_output.block2.block2-1.f.se.fc1", nil, []int64{-1, 26, 1, 1}, "Conv2d", 104*26 + 26},
		// 104 channels in groups of 8.
		{"regnet_y_400mf", "trunk_output.block2.block2-1.f.b.0", []int64{-1, 3, 160, 96}, []int64{-1, 104, 20, 12}, "Conv2d", 104 * 8 * 9},
		{"regnet_y_400mf", "trunk_output.block4.block4-5.activation", nil, []int64{-1, 440, 7, 7}, "ReLU", 0},
		{"regnet_x_8gf", "trunk_output.block1.block1-0.f.b.0", nil, []int64{-1, 80, 56, 56}, "Conv2d", 80 * 80 * 9},
		{"regnet_x_400mf", "avgpool", []int64{-1, 3, 97, 61}, []int64{-1, 400, 1, 1}, "AdaptiveAvgPool2d", 0},
		{"regnet_y_128gf", "fc", nil, []int64{-1, 1000}, "Linear", 7392*1000 + 1000},
	}
	for _, tc := range tests {
		n := newNet(t, tc.arch, nil)
		in := n.DefaultInput()
		if tc.input != nil {
			in = tc.input
		}
		l, err := n.Build(in).Layer(tc.layer)
		if err != nil {
			t.Errorf("%s: %v", tc.arch, err)
			continue
		}
		if !sdk.EqualShape(l.Shape, tc.shape) || l.Kind != tc.kind || (tc.params >= 0 && l.Params != tc.params) {
			t.Errorf("%s Layers(%v) %s = %s %v, %d params; want %s %v, %d", tc.arch, in, tc.layer, l.Kind, l.Shape, l.Params, tc.kind, tc.shape, tc.params)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
		text string
	}{
		{sdk.LoadRequest{Arch: "regnet_z_400mf"}, sdk.ErrUnknownArch, "did you mean"},
		{sdk.LoadRequest{Arch: "regnet_y_400mf", Options: map[string]string{"num_classes": "-1"}}, sdk.ErrBadOption, "num_classes"},
		{sdk.LoadRequest{Arch: "regnet_y_400mf", Options: map[string]string{"se_ratio": "0.5"}}, sdk.ErrBadOption, "se_ratio"},
		// 644,812,894 parameters: over what one ONNX model holds.
		{sdk.LoadRequest{Arch: "regnet_y_128gf"}, nn.ErrTooLarge, "GOZOO_MAX_PARAMS"},
	}
	for _, tc := range tests {
		_, err := New().Load(context.Background(), &tc.req)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Load(%+v) = %v; want %v naming %s", tc.req, err, tc.want, tc.text)
		}
	}
}

// TestExtract runs a random regnet_y_400mf on a small non-square batch
// and checks input errors, the default layer and a layer set.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "regnet_y_400mf", Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var shapeErr *sdk.ShapeError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 4, 32, 32)}); !errors.As(err, &shapeErr) {
		t.Errorf("Extract(4 channels) = %v; want a *sdk.ShapeError", err)
	}
	var layerErr *sdk.LayerError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 32, 32), Layers: []string{"trunk_output.block1.block1-0.f.sq"}}); !errors.As(err, &layerErr) || !slices.Contains(layerErr.Suggestions, "trunk_output.block1.block1-0.f.se") {
		t.Errorf("Extract(f.sq) = %v; want a *sdk.LayerError suggesting f.se", err)
	}
	x := sdk.Zeros(2, 3, 48, 40)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%23)/11 - 1
	}
	out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
	if err != nil {
		t.Fatal(err)
	}
	if fc := out.Outputs["fc"]; fc == nil || !sdk.EqualShape(fc.Shape, []int64{2, 7}) {
		t.Fatalf("Extract() = %v; want fc [2, 7]", out.Outputs)
	}
	set, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"trunk_output.block2", "avgpool", "fc"}})
	if err != nil {
		t.Fatal(err)
	}
	if !sdk.EqualShape(set.Outputs["trunk_output.block2"].Shape, []int64{2, 104, 6, 5}) || !sdk.EqualShape(set.Outputs["avgpool"].Shape, []int64{2, 440, 1, 1}) {
		t.Errorf("Extract(block2, avgpool) shapes %v, %v; want [2, 104, 6, 5], [2, 440, 1, 1]", set.Outputs["trunk_output.block2"].Shape, set.Outputs["avgpool"].Shape)
	}
	if !slices.Equal(set.Outputs["fc"].Float32, out.Outputs["fc"].Float32) {
		t.Error("fc differs between layer sets")
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

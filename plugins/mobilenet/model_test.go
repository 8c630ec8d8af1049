package mobilenet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/zoo"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "mobilenet" || !d.Capabilities.Extract || d.Capabilities.Train || !slices.Contains(d.Capabilities.Devices, "cpu") {
		t.Errorf("Describe = %+v", d)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		var opts []string
		for _, o := range a.Options {
			opts = append(opts, o.Name)
		}
		want := "num_classes " + bridge.PrefixOption
		if a.Name == "mnasnet0_5" || a.Name == "mnasnet0_75" || a.Name == "mnasnet1_3" {
			want = "num_classes v1_stem " + bridge.PrefixOption
		}
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) || strings.Join(opts, " ") != want {
			t.Errorf("arch %s: input %v, options %v; want [-1 3 224 224], %s", a.Name, a.Input.Shape, opts, want)
		}
	}
	want := "mobilenet_v2 mobilenet_v3_large mobilenet_v3_small mnasnet0_5 mnasnet0_75 mnasnet1_0 mnasnet1_3 " +
		"shufflenet_v2_x0_5 shufflenet_v2_x1_0 shufflenet_v2_x1_5 shufflenet_v2_x2_0"
	if strings.Join(names, " ") != want {
		t.Errorf("archs = %v; want %s", names, want)
	}
}

// TestLayerShapes checks Layers without running anything: output shapes
// and parameter counts (torch's sum of numel over the module's
// parameters, and for the whole net torchvision's num_params).
func TestLayerShapes(t *testing.T) {
	tests := []struct {
		arch   string
		layer  string
		input  []int64
		shape  []int64
		params int64
	}{
		{"mobilenet_v2", "features.18", nil, []int64{-1, 1280, 7, 7}, 320*1280 + 2*1280},
		{"mobilenet_v2", "adaptive_avg_pool2d", nil, []int64{-1, 1280, 1, 1}, 0},
		{"mobilenet_v2", "flatten", []int64{-1, 3, 131, 97}, []int64{-1, 1280}, 0},
		{"mobilenet_v2", "features.3.conv.1.0", nil, []int64{-1, 144, 56, 56}, 144 * 9},
		{"mobilenet_v3_large", "features.4.block.2.fc1", nil, []int64{-1, 24, 1, 1}, 72*24 + 24},
		{"mobilenet_v3_large", "features.16", []int64{-1, 3, 160, 192}, []int64{-1, 960, 5, 6}, 160*960 + 2*960},
		{"mobilenet_v3_small", "classifier.0", nil, []int64{-1, 1024}, 576*1024 + 1024},
		{"mobilenet_v3_small", "features.1.block.1.fc2", nil, []int64{-1, 16, 1, 1}, 8*16 + 16},
		{"mnasnet0_5", "layers.8.0.layers.3", nil, []int64{-1, 24, 56, 56}, 24 * 9},
		{"mnasnet1_3", "mean", nil, []int64{-1, 1280}, 0},
		{"shufflenet_v2_x1_0", "stage3.0.branch1", nil, []int64{-1, 116, 14, 14}, 116*9 + 2*116 + 116*116 + 2*116},
		{"shufflenet_v2_x2_0", "conv5", []int64{-1, 3, 131, 97}, []int64{-1, 2048, 5, 4}, 976*2048 + 2*2048},
		{"shufflenet_v2_x0_5", "maxpool", []int64{-1, 3, 1, 1}, []int64{-1, 24, 1, 1}, 0},
	}
	for _, tc := range tests {
		in := []int64{-1, 3, 224, 224}
		if tc.input != nil {
			in = tc.input
		}
		g := newNet(t, tc.arch, nil).Build(in)
		if err := g.Err(); err != nil {
			t.Fatalf("%s Build(%v): %v", tc.arch, in, err)
		}
		l, err := g.Layer(tc.layer)
		if err != nil {
			t.Errorf("%s has no layer %s: %v", tc.arch, tc.layer, err)
			continue
		}
		if !sdk.EqualShape(l.Shape, tc.shape) || l.Params != tc.params {
			t.Errorf("%s Layers(%v) %s = %v, %d params; want %v, %d", tc.arch, in, tc.layer, l.Shape, l.Params, tc.shape, tc.params)
		}
	}
	// torchvision's weights enums' num_params.
	numParams := map[string]int64{
		"mobilenet_v2": 3504872, "mobilenet_v3_large": 5483032, "mobilenet_v3_small": 2542856,
		"mnasnet0_5": 2218512, "mnasnet0_75": 3170208, "mnasnet1_0": 4383312, "mnasnet1_3": 6282256,
		"shufflenet_v2_x0_5": 1366792, "shufflenet_v2_x1_0": 2278604, "shufflenet_v2_x1_5": 3503624, "shufflenet_v2_x2_0": 7393996,
	}
	for _, a := range archs {
		var n int64
		for _, p := range newNet(t, a.name, nil).Build(backbone.ImageInput.Shape).Params() {
			n += sdk.NumElements(p.Shape)
		}
		if n != numParams[a.name] {
			t.Errorf("%s has %d parameters; torchvision's has %d", a.name, n, numParams[a.name])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
	}{
		{sdk.LoadRequest{Arch: "mobilenet_v4"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "mobilenet_v2", Options: map[string]string{"num_classes": "0"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "mobilenet_v2", Options: map[string]string{"v1_stem": "true"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "mnasnet0_5", Options: map[string]string{"v1_stem": "maybe"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "shufflenet_v2_x1_0", Options: map[string]string{"num_classes": "100000000000"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "mobilenet_v3_small", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
	}
	for _, tc := range tests {
		if _, err := New().Load(context.Background(), &tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestExtract runs a random mobilenet_v3_small and shufflenet_v2_x0_5
// on tiny and odd inputs, the default layer, and input errors.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, tc := range []struct {
		arch          string
		shape         []int64
		layer, pooled string
		poolShape     []int64
	}{
		{"mobilenet_v3_small", []int64{2, 3, 1, 1}, "classifier.3", "flatten", []int64{2, 576}},
		{"shufflenet_v2_x0_5", []int64{1, 3, 33, 17}, "fc", "mean", []int64{1, 1024}},
		{"mnasnet0_5", []int64{1, 3, 40, 64}, "classifier.1", "mean", []int64{1, 1280}},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "7"}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			x := sdk.Zeros(tc.shape...)
			for i := range x.Float32 {
				x.Float32[i] = float32(i%13)/13 - 0.4
			}
			out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
			if err != nil {
				t.Fatal(err)
			}
			if y := out.Outputs[tc.layer]; y == nil || !sdk.EqualShape(y.Shape, []int64{tc.shape[0], 7}) {
				t.Fatalf("Extract() = %v; want %s [%d, 7]", out.Outputs, tc.layer, tc.shape[0])
			}
			out, err = m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{tc.pooled}})
			if err != nil {
				t.Fatal(err)
			}
			if y := out.Outputs[tc.pooled]; y == nil || !sdk.EqualShape(y.Shape, tc.poolShape) {
				t.Fatalf("Extract(%s) = %v; want %v", tc.pooled, out.Outputs, tc.poolShape)
			}
			var shapeErr *sdk.ShapeError
			if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 4, 32, 32)}); !errors.As(err, &shapeErr) {
				t.Errorf("Extract(4 channels) = %v; want a ShapeError", err)
			}
			var layerErr *sdk.LayerError
			if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"features.99"}}); !errors.As(err, &layerErr) {
				t.Errorf("Extract(features.99) = %v; want a LayerError", err)
			}
		})
	}
}

// newNet configures arch with the given options.
func newNet(t testing.TB, arch string, opts map[string]string) backbone.Net {
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

// TestCatalog checks that the zoo catalog's torchvision entries for this
// plugin name its archs and their pooled features, [N, C], as their
// layer.
func TestCatalog(t *testing.T) {
	c, err := zoo.Default()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range c.Entries() {
		if e.Plugin != "mobilenet" {
			continue
		}
		i := slices.IndexFunc(archs, func(a arch) bool { return a.name == e.Arch })
		if i < 0 {
			t.Errorf("%s: arch %s is not one of the plugin's", e.Name, e.Arch)
			continue
		}
		seen[e.Arch] = true
		l, err := newNet(t, e.Arch, e.Options).Build(backbone.ImageInput.Shape).Layer(e.Layer)
		if err != nil || e.Layer != archs[i].pooled || len(l.Shape) != 2 {
			t.Errorf("%s: layer %s (%v, %v); want the pooled features %s, [N, C]", e.Name, e.Layer, l.Shape, err, archs[i].pooled)
		}
	}
	for _, a := range archs {
		if !seen[a.name] {
			t.Errorf("the catalog has no entry for %s", a.name)
		}
	}
}

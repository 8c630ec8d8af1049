package classic

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
	if d.Name != "classic" || !d.Capabilities.Extract || d.Capabilities.Train || !slices.Contains(d.Capabilities.Devices, "cpu") {
		t.Errorf("Describe = %+v", d)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) || len(a.Options) != 2 || a.Options[0].Name != "num_classes" || a.Options[1].Name != bridge.PrefixOption {
			t.Errorf("arch %s = %+v", a.Name, a)
		}
	}
	if want := "alexnet squeezenet1_0 squeezenet1_1 densenet121 densenet161 densenet169 densenet201"; strings.Join(names, " ") != want {
		t.Errorf("archs = %v; want %s", names, want)
	}
}

// TestLayerShapes checks Layers without running anything: output shapes,
// parameter counts (for the whole net, torchvision's num_params) and
// inputs below torchvision's min_size.
func TestLayerShapes(t *testing.T) {
	tests := []struct {
		arch   string
		layer  string
		input  []int64
		shape  []int64
		params int64
	}{
		{"alexnet", "features.12", []int64{-1, 3, 131, 97}, []int64{-1, 256, 3, 2}, 0},
		{"alexnet", "avgpool", []int64{-1, 3, 63, 63}, []int64{-1, 256, 6, 6}, 0},
		{"alexnet", "flatten", nil, []int64{-1, 9216}, 0},
		{"alexnet", "classifier.1", nil, []int64{-1, 4096}, 9216*4096 + 4096},
		{"squeezenet1_0", "features.12", []int64{-1, 3, 97, 67}, []int64{-1, 512, 5, 3}, 512*64 + 64 + 64*256*10 + 2*256},
		{"squeezenet1_0", "features.3.expand3x3", nil, []int64{-1, 64, 54, 54}, 16*64*9 + 64},
		{"squeezenet1_1", "classifier.3", nil, []int64{-1, 1000, 1, 1}, 0},
		{"squeezenet1_1", "flatten", nil, []int64{-1, 1000}, 0},
		{"densenet121", "features.transition1", nil, []int64{-1, 128, 28, 28}, 2*256 + 256*128},
		{"densenet121", "features.denseblock1.denselayer6", nil, []int64{-1, 32, 56, 56}, 2*224 + 224*128 + 2*128 + 128*32*9},
		{"densenet121", "features.denseblock1", nil, []int64{-1, 256, 56, 56}, -1},
		{"densenet161", "relu", []int64{-1, 3, 97, 67}, []int64{-1, 2208, 3, 2}, 0},
		{"densenet169", "adaptive_avg_pool2d", nil, []int64{-1, 1664, 1, 1}, 0},
		{"densenet201", "flatten", nil, []int64{-1, 1920}, 0},
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
		if !sdk.EqualShape(l.Shape, tc.shape) || (tc.params >= 0 && l.Params != tc.params) {
			t.Errorf("%s Layers(%v) %s = %v, %d params; want %v, %d", tc.arch, in, tc.layer, l.Shape, l.Params, tc.shape, tc.params)
		}
	}
	numParams := map[string]int64{"alexnet": 61100840, "squeezenet1_0": 1248424, "squeezenet1_1": 1235496,
		"densenet121": 7978856, "densenet161": 28681000, "densenet169": 14149480, "densenet201": 20013928}
	// torchvision's min_size: the smallest input the net takes.
	minSize := map[string]int64{"alexnet": 63, "squeezenet1_0": 21, "squeezenet1_1": 17,
		"densenet121": 29, "densenet161": 29, "densenet169": 29, "densenet201": 29}
	for _, a := range archs {
		var n int64
		for _, p := range newNet(t, a.name, nil).Build(backbone.ImageInput.Shape).Params() {
			n += sdk.NumElements(p.Shape)
		}
		if n != numParams[a.name] {
			t.Errorf("%s has %d parameters; torchvision's has %d", a.name, n, numParams[a.name])
		}
		s := minSize[a.name]
		if err := newNet(t, a.name, nil).Build([]int64{-1, 3, s, s}).Err(); err != nil {
			t.Errorf("%s at torchvision's min_size %d: %v", a.name, s, err)
		}
		if err := newNet(t, a.name, nil).Build([]int64{-1, 3, s - 6, s - 6}).Err(); !errors.Is(err, sdk.ErrBadInput) {
			t.Errorf("%s at %dx%d, under torchvision's min_size: %v; want sdk.ErrBadInput", a.name, s-6, s-6, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
	}{
		{sdk.LoadRequest{Arch: "densenet122"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "alexnet", Options: map[string]string{"num_classes": "-1"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "squeezenet1_0", Options: map[string]string{"growth_rate": "12"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "alexnet", Options: map[string]string{"num_classes": "1000000"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "densenet121", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
	}
	for _, tc := range tests {
		if _, err := New().Load(context.Background(), &tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestAdaptDenseNet renames legacy keys as torchvision's regex does and
// leaves every other key alone.
func TestAdaptDenseNet(t *testing.T) {
	in := map[string]*sdk.Tensor{}
	for _, k := range []string{
		"features.denseblock1.denselayer1.norm.1.weight", "features.denseblock1.denselayer1.norm.1.running_var",
		"features.denseblock4.denselayer16.conv.2.weight", "features.denseblock2.denselayer12.norm.2.bias",
		"features.denseblock1.denselayer1.norm.1.num_batches_tracked", // not in torchvision's pattern
		"features.transition1.norm.weight", "features.norm5.bias", "classifier.weight",
		"features.denseblock1.denselayer1.norm.3.weight",
	} {
		in[k] = sdk.Zeros(1)
	}
	got, err := adaptDenseNet(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"classifier.weight", "features.denseblock1.denselayer1.norm.1.num_batches_tracked", "features.denseblock1.denselayer1.norm.3.weight",
		"features.denseblock1.denselayer1.norm1.running_var", "features.denseblock1.denselayer1.norm1.weight",
		"features.denseblock2.denselayer12.norm2.bias", "features.denseblock4.denselayer16.conv2.weight",
		"features.norm5.bias", "features.transition1.norm.weight",
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("adaptDenseNet keys = %v; want %v", keys, want)
	}
}

// TestExtract runs a random squeezenet1_1 and densenet121 on small odd
// inputs: the default layer is the net's output as torch returns it.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, tc := range []struct {
		arch, layer, min string
		shape            []int64
	}{
		{"squeezenet1_1", "flatten", "17", []int64{2, 3, 33, 17}},
		{"densenet121", "classifier", "29", []int64{1, 3, 45, 29}},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "7"}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			x := sdk.Zeros(tc.shape...)
			for i := range x.Float32 {
				x.Float32[i] = float32(i%11)/11 - 0.3
			}
			out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
			if err != nil {
				t.Fatal(err)
			}
			if y := out.Outputs[tc.layer]; y == nil || !sdk.EqualShape(y.Shape, []int64{tc.shape[0], 7}) {
				t.Fatalf("Extract() = %v; want %s [%d, 7]", out.Outputs, tc.layer, tc.shape[0])
			}
			if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 9, 9)}); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "at least "+tc.min) {
				t.Errorf("Extract(9x9) = %v; want sdk.ErrBadInput naming torchvision's min_size %s", err, tc.min)
			}
		})
	}
}

// TestCatalog checks that the zoo catalog's entries for this plugin name
// its archs and an existing layer, and that every arch has one.
func TestCatalog(t *testing.T) {
	c, err := zoo.Default()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range c.Entries() {
		if e.Plugin != "classic" {
			continue
		}
		if !slices.ContainsFunc(archs, func(a arch) bool { return a.name == e.Arch }) {
			t.Errorf("%s: arch %s is not one of the plugin's", e.Name, e.Arch)
			continue
		}
		seen[e.Arch] = true
		if _, err := newNet(t, e.Arch, e.Options).Build(backbone.ImageInput.Shape).Layer(e.Layer); err != nil {
			t.Errorf("%s: layer %s: %v", e.Name, e.Layer, err)
		}
	}
	for _, a := range archs {
		if !seen[a.name] {
			t.Errorf("the catalog has no entry for %s", a.name)
		}
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

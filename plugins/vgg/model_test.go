package vgg

import (
	"context"
	"errors"
	"github.com/gozoo/gozoo/bridge"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "vgg" || !d.Capabilities.Extract || d.Capabilities.Train || !slices.Contains(d.Capabilities.Devices, "cpu") {
		t.Errorf("Describe = %+v", d)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) || len(a.Options) != 2 || a.Options[0].Name != "num_classes" || a.Options[1].Name != bridge.PrefixOption {
			t.Errorf("arch %s = %+v", a.Name, a)
		}
	}
	if want := "vgg11 vgg11_bn vgg13 vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn"; strings.Join(names, " ") != want {
		t.Errorf("archs = %v; want %s", names, want)
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
		{"vgg16", "features", nil, []int64{-1, 512, 7, 7}, 14714688},
		{"vgg16", "classifier", nil, []int64{-1, 1000}, 123642856},
		{"vgg16", "features.28", nil, []int64{-1, 512, 14, 14}, 512*512*9 + 512},
		{"vgg16", "avgpool", []int64{-1, 3, 100, 130}, []int64{-1, 512, 7, 7}, 0},
		{"vgg16", "features", []int64{2, 3, 100, 130}, []int64{-1, 512, 3, 4}, 14714688},
		{"vgg19_bn", "features.50", nil, []int64{-1, 512, 14, 14}, 1024},
		{"vgg19_bn", "features.51", nil, []int64{-1, 512, 14, 14}, 0},
		{"vgg11_bn", "features.28", nil, []int64{-1, 512, 7, 7}, 0},
		{"vgg13", "classifier.2", nil, []int64{-1, 4096}, 0},
	}
	for _, tc := range tests {
		in := defaultInput.Shape
		if tc.input != nil {
			in = slices.Clone(tc.input)
			in[0] = -1
		}
		g := sdktest.NewNet(t, Family, tc.arch, nil).Build(in)
		ls, err := g.Layers(), g.Err()
		if err != nil {
			t.Fatalf("%s Layers: %v", tc.arch, err)
		}
		i := slices.IndexFunc(ls, func(l sdk.Layer) bool { return l.Name == tc.layer })
		if i < 0 {
			t.Errorf("%s has no layer %s", tc.arch, tc.layer)
			continue
		}
		if l := ls[i]; !sdk.EqualShape(l.Shape, tc.shape) || l.Params != tc.params {
			t.Errorf("%s Layers(%v) %s = %v, %d params; want %v, %d", tc.arch, tc.input, tc.layer, l.Shape, l.Params, tc.shape, tc.params)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
	}{
		{sdk.LoadRequest{Arch: "vgg17"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "vgg11", Options: map[string]string{"num_classes": "0"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "vgg11", Options: map[string]string{"aux_logits": "true"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "vgg11", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "vgg11", WeightsPath: "/nonexistent.pth"}, nil},
	}
	for _, tc := range tests {
		_, err := New().Load(context.Background(), &tc.req)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestSetTrainable freezes everything, then unfreezes the features and
// the last classifier layer by pattern, over vgg16's parameters as the
// model's SetTrainable does (backbone.ApplyTrainable); building the graph
// alone spares drawing 138M weights.
func TestSetTrainable(t *testing.T) {
	ps := sdktest.NewNet(t, Family, "vgg16", nil).Build(defaultInput.Shape).Params()
	flags := map[string]bool{}
	for _, p := range ps {
		flags[p.Name] = true
	}
	tests := []struct {
		patterns  []string
		trainable bool
		matched   int
	}{
		{[]string{"*"}, false, 32},
		{[]string{"features.*"}, true, 26},
		{[]string{"classifier.6.*"}, true, 2},
		{[]string{"features.0.*", "features.2.weight"}, false, 3},
	}
	for _, tc := range tests {
		resp, err := backbone.ApplyTrainable(ps, flags, &sdk.SetTrainableRequest{Patterns: tc.patterns, Trainable: tc.trainable})
		if err != nil || len(resp.Matched) != tc.matched {
			t.Fatalf("SetTrainable(%q, %v) = %v, %v; want %d matches", tc.patterns, tc.trainable, resp, err, tc.matched)
		}
	}
	for _, p := range ps {
		want := (strings.HasPrefix(p.Name, "features.") || strings.HasPrefix(p.Name, "classifier.6.")) &&
			!strings.HasPrefix(p.Name, "features.0.") && p.Name != "features.2.weight"
		if flags[p.Name] != want {
			t.Errorf("param %s trainable = %v; want %v", p.Name, flags[p.Name], want)
		}
	}
	if _, err := backbone.ApplyTrainable(ps, flags, &sdk.SetTrainableRequest{Patterns: []string{"fc.*"}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("SetTrainable(fc.*) = %v; want ErrBadInput", err)
	}
}

// adaptiveAvgPool is torch's AdaptiveAvgPool2d, written out.
func adaptiveAvgPool(x *sdk.Tensor, oh, ow int64) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := make([]float32, 0, n*c*oh*ow)
	for p := range n * c {
		for i := range oh {
			h0, h1 := i*h/oh, ((i+1)*h+oh-1)/oh
			for j := range ow {
				w0, w1 := j*w/ow, ((j+1)*w+ow-1)/ow
				var s float64
				for y := h0; y < h1; y++ {
					for z := w0; z < w1; z++ {
						s += float64(x.Float32[p*h*w+y*w+z])
					}
				}
				out = append(out, float32(s/float64((h1-h0)*(w1-w0))))
			}
		}
	}
	return out
}

// TestExtract runs a random vgg11 at several input sizes and checks
// avgpool against AdaptiveAvgPool2d((7, 7)) written out, the per-size
// sessions, input validation and Close.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "vgg11", Seed: 1, Threads: 2, Options: map[string]string{"num_classes": "5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, size := range [][2]int64{{32, 32}, {100, 130}, {224, 224}, {100, 130}} {
		x := sdk.Zeros(2, 3, size[0], size[1])
		for i := range x.Float32 {
			x.Float32[i] = float32(i%23)/23 - 0.5
		}
		layers := []string{"features", "avgpool"}
		if size[0] == 100 {
			layers = append(layers, "classifier")
		}
		out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: layers})
		if err != nil {
			t.Fatalf("Extract(%v) = %v", size, err)
		}
		want := adaptiveAvgPool(out.Outputs["features"], 7, 7)
		got := out.Outputs["avgpool"]
		if !sdk.EqualShape(got.Shape, []int64{2, 512, 7, 7}) {
			t.Fatalf("Extract(%v) avgpool shape %v; want [2, 512, 7, 7]", size, got.Shape)
		}
		if c := out.Outputs["classifier"]; len(layers) == 3 && (c == nil || !sdk.EqualShape(c.Shape, []int64{2, 5})) {
			t.Fatalf("Extract(%v) classifier = %v; want [2, 5]", size, c)
		}
		var diff, scale float64
		for i := range want {
			diff = math.Max(diff, math.Abs(float64(got.Float32[i]-want[i])))
			scale = math.Max(scale, math.Abs(float64(want[i])))
		}
		if diff > 1e-5*math.Max(1, scale) {
			t.Errorf("Extract(%v) avgpool: max diff %.3g from AdaptiveAvgPool2d written out", size, diff)
		}
	}
	var shapeErr *sdk.ShapeError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 16, 16)}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract(16x16) = %v; want ErrBadInput (too small)", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 1, 32, 32)}); !errors.As(err, &shapeErr) {
		t.Errorf("Extract(1 channel) = %v; want *sdk.ShapeError", err)
	}
	var layerErr *sdk.LayerError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 32, 32), Layers: []string{"features.21"}}); !errors.As(err, &layerErr) {
		t.Errorf("Extract(features.21) = %v; want *sdk.LayerError", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 32, 32)}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Extract after Close = %v; want ErrClosed", err)
	}
}

package resnet

import (
	"context"
	"errors"
	"github.com/gozoo/gozoo/bridge"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "resnet" || !d.Capabilities.Extract || d.Capabilities.Train || !d.Capabilities.Export || !slices.Contains(d.Capabilities.Devices, "cpu") {
		t.Errorf("Describe = %+v", d)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) || len(a.Options) != 3 || a.Options[0].Name != "num_classes" || a.Options[1].Name != "width" || a.Options[2].Name != bridge.PrefixOption {
			t.Errorf("arch %s = %+v", a.Name, a)
		}
	}
	want := "resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d resnext101_32x8d wide_resnet50_2 wide_resnet101_2"
	if strings.Join(names, " ") != want {
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
		{"resnet18", "layer4", nil, []int64{-1, 512, 7, 7}, 8393728},
		{"resnet50", "avgpool", []int64{-1, 3, 160, 192}, []int64{-1, 2048, 1, 1}, 0},
		{"resnet50", "fc", []int64{4, 3, 160, 192}, []int64{-1, 1000}, 2049000},
		{"resnext50_32x4d", "layer1.0.conv2", nil, []int64{-1, 128, 56, 56}, 128 * 4 * 9},
		{"wide_resnet50_2", "layer1.0.conv2", nil, []int64{-1, 128, 56, 56}, 128 * 128 * 9},
		{"resnet18", "layer2.0.downsample", nil, []int64{-1, 128, 28, 28}, 64*128 + 2*128},
	}
	for _, tc := range tests {
		in := []int64{-1, 3, 224, 224}
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
		{sdk.LoadRequest{Arch: "resnet19"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"num_classes": "x"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"depth": "3"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"width": "0"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"width": "8.5"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "resnet18", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
	}
	for _, tc := range tests {
		if _, err := New().Load(context.Background(), &tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestExtract runs a random resnet18 and checks input validation, layer
// errors, the session cache and concurrent use.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Seed: 1, Threads: 1, Options: map[string]string{"num_classes": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := sdk.Zeros(2, 3, 64, 48)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%17) / 17
	}
	var shapeErr *sdk.ShapeError
	var layerErr *sdk.LayerError
	bad := []struct {
		name   string
		req    *sdk.ExtractRequest
		target any
	}{
		{"rank", &sdk.ExtractRequest{Input: sdk.Zeros(3, 64, 64)}, &shapeErr},
		{"channels", &sdk.ExtractRequest{Input: sdk.Zeros(1, 1, 64, 64)}, &shapeErr},
		{"dtype", &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{1, 3, 2, 2}, Int64: make([]int64, 12)}}, &shapeErr},
		{"layer", &sdk.ExtractRequest{Input: x, Layers: []string{"layer3.1.conv3"}}, &layerErr},
	}
	for _, tc := range bad {
		_, err := m.Extract(ctx, tc.req)
		if err == nil || !errors.As(err, tc.target) {
			t.Errorf("Extract(%s) = %v; want %T", tc.name, err, tc.target)
		}
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"layer3.1.conv"}}); !errors.As(err, &layerErr) || !slices.Contains(layerErr.Suggestions, "layer3.1.conv1") {
		t.Errorf("Extract(layer3.1.conv) = %v; want suggestions with layer3.1.conv1", err)
	}

	want, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
	if err != nil {
		t.Fatal(err)
	}
	if fc := want.Outputs["fc"]; fc == nil || !sdk.EqualShape(fc.Shape, []int64{2, 7}) {
		t.Fatalf("Extract() default output = %v; want fc [2, 7]", want.Outputs)
	}
	// Several layer sets at once, more than the cache holds.
	sets := [][]string{{"fc"}, {"layer1", "fc"}, {"avgpool", "layer4.1", "fc"}, {"fc", "layer2.1.relu"}}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(sets))
	for r := 0; r < 2; r++ {
		for _, set := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: set})
				if err != nil {
					errs <- err
					return
				}
				if len(out.Outputs) != len(set) || !slices.Equal(out.Outputs["fc"].Float32, want.Outputs["fc"].Float32) {
					errs <- errors.New("layer set " + strings.Join(set, ",") + " gave another fc")
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Extract after Close = %v; want ErrClosed", err)
	}
}

func TestSetTrainable(t *testing.T) {
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}, Trainable: false})
	if err != nil || len(resp.Matched) != 62 {
		t.Fatalf("SetTrainable(*) = %v, %v; want 62 matches", resp, err)
	}
	resp, err = m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"layer4.*", "fc.*"}, Trainable: true})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := m.Params(ctx)
	for _, p := range ps {
		want := strings.HasPrefix(p.Name, "layer4.") || strings.HasPrefix(p.Name, "fc.")
		if p.Trainable != want {
			t.Errorf("param %s trainable = %v; want %v", p.Name, p.Trainable, want)
		}
	}
	if len(resp.Matched) != 17 {
		t.Errorf("SetTrainable(layer4.*, fc.*) matched %d; want 17", len(resp.Matched))
	}
	if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"nope.*"}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("SetTrainable(nope.*) = %v; want ErrBadInput", err)
	}
}

// TestWidthOption checks the slim variants' shapes and parameter names:
// torchvision's names with every channel count scaled by width/64.
func TestWidthOption(t *testing.T) {
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"width": "8", "num_classes": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ls, err := m.Layers(context.Background(), &sdk.LayersRequest{InputShape: []int64{-1, 3, 28, 28}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"conv1": {-1, 8, 14, 14}, "layer2": {-1, 16, 4, 4}, "layer4": {-1, 64, 1, 1}, "fc": {-1, 10}}
	for _, l := range ls {
		if w, ok := want[l.Name]; ok && !sdk.EqualShape(l.Shape, w) {
			t.Errorf("width 8: %s shape %v; want %v", l.Name, l.Shape, w)
		}
	}
	ps, err := m.Params(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for _, p := range ps {
		n += sdk.NumElements(p.Shape)
	}
	// sum(p.numel()) of zoo/models/train_fmnist.py's ResNet18(8, 10).
	if n != 177362 {
		t.Errorf("width 8 resnet18 has %d parameters; PyTorch's has 177362", n)
	}
}

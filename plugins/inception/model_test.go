package inception

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "inception" || !d.Capabilities.Extract || d.Capabilities.Train {
		t.Errorf("Describe = %+v", d)
	}
	want := map[string][]int64{"inception_v3": {-1, 3, 299, 299}, "googlenet": {-1, 3, 224, 224}}
	for _, a := range d.Archs {
		var opts []string
		for _, o := range a.Options {
			opts = append(opts, o.Name+"="+o.Default)
		}
		if !sdk.EqualShape(a.Input.Shape, want[a.Name]) || strings.Join(opts, " ") != "num_classes=1000 aux_logits=true transform_input=false strip_prefix=" {
			t.Errorf("arch %s = %+v", a.Name, a)
		}
		delete(want, a.Name)
	}
	if len(want) != 0 {
		t.Errorf("Describe lacks %v", want)
	}
}

// TestLayerShapes checks Layers without running anything.
func TestLayerShapes(t *testing.T) {
	tests := []struct {
		arch   string
		opts   map[string]string
		layer  string
		input  []int64
		shape  []int64
		params int64
	}{
		{"inception_v3", nil, "Mixed_7c", nil, []int64{-1, 2048, 8, 8}, 6076800},
		{"inception_v3", nil, "AuxLogits.fc", nil, []int64{-1, 1000}, 769000},
		{"inception_v3", nil, "Mixed_6e.branch7x7dbl_3.conv", nil, []int64{-1, 192, 17, 17}, 192 * 192 * 7},
		{"inception_v3", nil, "avgpool", []int64{-1, 3, 75, 75}, []int64{-1, 2048, 1, 1}, 0},
		{"inception_v3", nil, "Mixed_5b", []int64{-1, 3, 160, 200}, []int64{-1, 256, 17, 22}, 255904},
		{"googlenet", nil, "inception5b", nil, []int64{-1, 1024, 7, 7}, 1347040},
		{"googlenet", nil, "aux1.fc2", nil, []int64{-1, 1000}, 1025000},
		{"googlenet", map[string]string{"num_classes": "10"}, "fc", []int64{-1, 3, 96, 128}, []int64{-1, 10}, 10250},
		{"googlenet", nil, "inception3a.branch3.1.conv", nil, []int64{-1, 32, 28, 28}, 16 * 32 * 9},
	}
	for _, tc := range tests {
		n := sdktest.NewNet(t, Family, tc.arch, tc.opts)
		in := n.DefaultInput()
		if tc.input != nil {
			in = tc.input
		}
		g := n.Build(in)
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
	// Without aux heads, or too small for inception_v3's, there is none.
	for _, tc := range []struct {
		arch  string
		aux   string
		input []int64
	}{{"inception_v3", "false", nil}, {"inception_v3", "true", []int64{-1, 3, 75, 75}}, {"googlenet", "false", nil}} {
		n := sdktest.NewNet(t, Family, tc.arch, map[string]string{"aux_logits": tc.aux})
		in := n.DefaultInput()
		if tc.input != nil {
			in = tc.input
		}
		g := n.Build(in)
		ls, err := g.Layers(), g.Err()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if strings.HasPrefix(l.Name, "aux") || strings.HasPrefix(l.Name, "AuxLogits") {
				t.Errorf("%s aux_logits=%s input %v has layer %s", tc.arch, tc.aux, tc.input, l.Name)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
	}{
		{sdk.LoadRequest{Arch: "inception_v4"}, sdk.ErrUnknownArch},
		{sdk.LoadRequest{Arch: "googlenet", Options: map[string]string{"aux_logits": "maybe"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "googlenet", Options: map[string]string{"num_classes": "-3"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "inception_v3", Options: map[string]string{"depth": "3"}}, sdk.ErrBadOption},
		{sdk.LoadRequest{Arch: "inception_v3", WeightsFormat: sdk.FormatONNX}, sdk.ErrBadOption},
	}
	for _, tc := range tests {
		if _, err := New().Load(context.Background(), &tc.req); !errors.Is(err, tc.want) {
			t.Errorf("Load(%+v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestSetTrainable freezes everything and unfreezes Mixed_7c and fc.
func TestSetTrainable(t *testing.T) {
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "inception_v3", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tests := []struct {
		patterns  []string
		trainable bool
		matched   int
	}{
		{[]string{"*"}, false, 292},
		{[]string{"Mixed_7c.*"}, true, 27},
		{[]string{"fc.*", "AuxLogits.fc.*"}, true, 4},
	}
	for _, tc := range tests {
		resp, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: tc.patterns, Trainable: tc.trainable})
		if err != nil || len(resp.Matched) != tc.matched {
			t.Fatalf("SetTrainable(%q, %v) = %v, %v; want %d matches", tc.patterns, tc.trainable, resp, err, tc.matched)
		}
	}
	ps, _ := m.Params(ctx)
	for _, p := range ps {
		want := strings.HasPrefix(p.Name, "Mixed_7c.") || strings.HasPrefix(p.Name, "fc.") || strings.HasPrefix(p.Name, "AuxLogits.fc.")
		if p.Trainable != want {
			t.Errorf("param %s trainable = %v; want %v", p.Name, p.Trainable, want)
		}
	}
}

// TestAuxKeys loads checkpoints with and without aux heads the way
// torchvision does: aux_logits=false accepts and ignores aux keys, and
// the checkpoint sets aux_logits when not given (false without heads); a
// user's aux_logits=true contradicts a checkpoint without them.
func TestAuxKeys(t *testing.T) {
	archs := []string{"inception_v3", "googlenet"}
	var cases [][]string
	for _, arch := range archs {
		cases = append(cases, fixtureArgs(arch, 75, 75, true, false, []string{"fc"}), fixtureArgs(arch, 75, 75, false, false, []string{"fc"}))
	}
	fs := sdktest.MakeFixtures(t, "testdata/make_parity.py", cases)
	v3 := fs[0].Weights()
	for i, arch := range archs {
		with, without := fs[2*i].Weights(), fs[2*i+1].Weights()
		head := map[string]string{"inception_v3": "AuxLogits.", "googlenet": "aux1."}[arch]
		tests := []struct {
			path    string
			aux     string // "" leaves it to the checkpoint
			want    string // "" for success
			hasHead bool
		}{
			{with, "true", "", true},
			{with, "false", "", false},
			{with, "", "", true},
			{without, "false", "", false},
			{without, "", "", false},
			{without, "true", "aux_logits=true but the checkpoint has false", false},
		}
		for _, tc := range tests {
			var opts map[string]string
			if tc.aux != "" {
				opts = map[string]string{"aux_logits": tc.aux}
			}
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: arch, WeightsPath: tc.path, Options: opts})
			if tc.want != "" {
				if err == nil || !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s aux_logits=%q Load = %v; want ErrWeights mentioning %s", arch, tc.aux, err, tc.want)
				}
				if err == nil {
					m.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%s aux_logits=%q Load = %v; want success", arch, tc.aux, err)
				continue
			}
			ps, _ := m.Params(context.Background())
			if got := slices.ContainsFunc(ps, func(p sdk.Param) bool { return strings.HasPrefix(p.Name, head) }); got != tc.hasHead {
				t.Errorf("%s aux_logits=%q: has %s* params = %v; want %v", arch, tc.aux, head, got, tc.hasHead)
			}
			m.Close()
		}
	}
	// Another network's checkpoint says so.
	if _, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "googlenet", WeightsPath: v3}); err == nil ||
		!strings.Contains(err.Error(), "looks like inception_v3") {
		t.Errorf("Load(googlenet with inception_v3 weights) = %v; want a hint at inception_v3", err)
	}
}

// TestAuxIgnored checks torchvision's numbers for a checkpoint with aux
// heads loaded with aux_logits=false, from two sessions (each reads the
// checkpoint again and ignores the aux keys again).
func TestAuxIgnored(t *testing.T) {
	needORT(t)
	layers := []string{"inception4a", "fc"}
	f := makeFixture(t, "googlenet", 64, 64, true, false, layers, "--num-classes", "10")
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "googlenet", WeightsPath: f.Weights(), Threads: 2,
		Options: map[string]string{"aux_logits": "false"}})
	if err != nil {
		t.Fatalf("Load(aux_logits=false) with aux weights = %v", err)
	}
	defer m.Close()
	f.Check(t, m, layers[1:])
	f.Check(t, m, layers)
}

// TestExtractErrors checks input validation and the aux head's minimum
// input size.
func TestExtractErrors(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "inception_v3", Seed: 1, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 75, 75), Layers: []string{"AuxLogits"}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract(AuxLogits at 75x75) = %v; want ErrBadInput", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 60, 60)}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract(60x60) = %v; want ErrBadInput", err)
	}
	var layerErr *sdk.LayerError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 75, 75), Layers: []string{"Mixed_6e.branch7x7dbl"}}); !errors.As(err, &layerErr) ||
		!slices.Contains(layerErr.Suggestions, "Mixed_6e.branch7x7dbl_1") {
		t.Errorf("Extract(Mixed_6e.branch7x7dbl) = %v; want a LayerError suggesting Mixed_6e.branch7x7dbl_1", err)
	}
	out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(2, 3, 75, 75), Layers: []string{"avgpool", "fc"}})
	if err != nil || !sdk.EqualShape(out.Outputs["fc"].Shape, []int64{2, 1000}) {
		t.Errorf("Extract(75x75) = %v, %v; want fc [2, 1000]", out, err)
	}
}

// TestPluginConformance runs the conformance suite against the built
// gozoo-backbone-inception binary, for both networks.
func TestPluginConformance(t *testing.T) {
	needORT(t)
	bin := filepath.Join(testenv.BuildPlugin(t, "inception"), "gozoo-backbone-inception")
	bb := sdktest.Start(t, bin)
	t.Run("inception_v3", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("inception_v3"), sdktest.WithInputShape(-1, 3, 80, 96),
			sdktest.WithLoadOptions(map[string]string{"aux_logits": "false", "transform_input": "true"}),
			sdktest.WithLayers("Conv2d_1a_3x3", "Mixed_6e.branch7x7dbl_3.conv", "fc"))
	})
	t.Run("googlenet", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("googlenet"), sdktest.WithInputShape(-1, 3, 64, 64),
			sdktest.WithLayers("conv1", "inception4a.branch2.1", "aux2.fc2", "fc"))
	})
}

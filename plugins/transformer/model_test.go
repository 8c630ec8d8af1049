package transformer

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
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

// smallViT is a vit small enough for tests without a checkpoint.
var smallViT = map[string]string{"patch_size": "8", "num_layers": "2", "num_heads": "2", "hidden_dim": "16",
	"mlp_dim": "24", "image_size": "32", "num_classes": "5"}

var smallText = map[string]string{"num_embeddings": "30", "d_model": "16", "nhead": "2", "dim_feedforward": "24",
	"num_layers": "2", "max_len": "10", "num_classes": "4"}

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
	}
	if want := "vit_b_16 vit_b_32 vit_l_16 vit_l_32 vit text_encoder"; strings.Join(names, " ") != want || d.Name != "transformer" {
		t.Errorf("Describe = %s %v; want transformer %s", d.Name, names, want)
	}
	for _, a := range d.Archs {
		if a.Name == "text_encoder" {
			if a.Input.DType != sdk.Int64 || !sdk.EqualShape(a.Input.Shape, []int64{-1, 16}) {
				t.Errorf("text_encoder input %+v; want int64 [-1, 16]", a.Input)
			}
		} else if !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 224, 224}) {
			t.Errorf("%s input %+v; want [-1, 3, 224, 224]", a.Name, a.Input)
		}
	}
}

// TestLayerShapes checks shapes and parameter counts without running
// anything; the parameter totals are torchvision's.
func TestLayerShapes(t *testing.T) {
	for _, tc := range []struct {
		arch   string
		opts   map[string]string
		input  []int64
		layer  string
		shape  []int64
		params int64
	}{
		// All of torchvision's 86567656 but class_token, conv_proj and heads.
		{"vit_b_16", nil, []int64{-1, 3, 224, 224}, "encoder", []int64{-1, 197, 768}, 86567656 - 768 - (768*3*16*16 + 768) - (768*1000 + 1000)},
		{"vit_b_16", nil, []int64{-1, 3, 288, 320}, "conv_proj", []int64{-1, 768, 18, 20}, 768*3*16*16 + 768},
		{"vit_b_16", nil, []int64{-1, 3, 288, 320}, "encoder.layers.encoder_layer_3.mlp.0", []int64{-1, 361, 3072}, 768*3072 + 3072},
		{"vit_b_32", nil, []int64{-1, 3, 384, 384}, "cls_token", []int64{-1, 768}, 0},
		{"vit_l_16", nil, []int64{-1, 3, 224, 224}, "patch_mean", []int64{-1, 1024}, 0},
		{"vit_l_32", map[string]string{"num_classes": "10", "representation_size": "64"}, []int64{-1, 3, 64, 96}, "heads.pre_logits", []int64{-1, 64}, 1024*64 + 64},
		{"text_encoder", smallText, []int64{-1, 7}, "encoder.layers.1.linear1", []int64{-1, 7, 24}, 16*24 + 24},
		{"text_encoder", map[string]string{"batch_first": "false"}, []int64{9, -1}, "encoder.layers.5.self_attn", []int64{9, -1, 512}, 4*512*512 + 4*512},
	} {
		b := newNet(t, tc.arch, tc.opts).Build(tc.input)
		if err := b.Err(); err != nil {
			t.Fatalf("%s Build(%v): %v", tc.arch, tc.input, err)
		}
		l, err := b.Layer(tc.layer)
		if err != nil {
			t.Fatalf("%s: %v", tc.arch, err)
		}
		if !sdk.EqualShape(l.Shape, tc.shape) || l.Params != tc.params {
			t.Errorf("%s %v: %s = %v, %d params; want %v, %d", tc.arch, tc.input, tc.layer, l.Shape, l.Params, tc.shape, tc.params)
		}
	}
	var total int64
	for _, p := range newNet(t, "vit_l_16", nil).Build([]int64{-1, 3, 224, 224}).Params() {
		total += sdk.NumElements(p.Shape)
	}
	if total != 304326632 {
		t.Errorf("vit_l_16 has %d parameters; torchvision's has 304326632", total)
	}
}

// TestOneGraphForAllSizes checks that a ViT's graphs for different image
// sizes, and a text encoder's for different lengths, are one graph, so
// one ONNX Runtime session serves them all.
func TestOneGraphForAllSizes(t *testing.T) {
	for _, tc := range []struct {
		arch   string
		opts   map[string]string
		inputs [][]int64
		layers []string
	}{
		{"vit_b_16", nil, [][]int64{{-1, 3, 224, 224}, {-1, 3, 288, 320}, {-1, 3, 16, 32}}, []string{"cls_token", "patch_mean", "heads.head"}},
		{"text_encoder", smallText, [][]int64{{-1, 10}, {-1, 3}, {-1, 1}}, []string{"mean", "fc", "encoder.layers.0.norm2"}},
	} {
		var keys []string
		for _, in := range tc.inputs {
			k, err := newNet(t, tc.arch, tc.opts).Build(in).GraphKey(tc.layers)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.arch, in, err)
			}
			keys = append(keys, k)
		}
		if keys = slices.Compact(keys); len(keys) != 1 {
			t.Errorf("%s: %d graphs for inputs %v; want one", tc.arch, len(keys), tc.inputs)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		req  sdk.LoadRequest
		want error
		msg  string
	}{
		{sdk.LoadRequest{Arch: "vit_b_17"}, sdk.ErrUnknownArch, "did you mean vit_b_16"},
		{sdk.LoadRequest{Arch: "vit_b_16", Options: map[string]string{"image_size": "100"}}, sdk.ErrBadOption, "not a multiple of the patch size 16"},
		{sdk.LoadRequest{Arch: "vit_b_16", Options: map[string]string{"num_heads": "4"}}, sdk.ErrBadOption, "vit_b_16 takes num_classes, image_size"},
		{sdk.LoadRequest{Arch: "vit", Options: map[string]string{"num_heads": "5"}}, sdk.ErrBadOption, "num_heads 5 does not divide hidden_dim 768"},
		{sdk.LoadRequest{Arch: "text_encoder", Options: map[string]string{"nhead": "3"}}, sdk.ErrBadOption, "nhead 3 does not divide d_model 512"},
		{sdk.LoadRequest{Arch: "text_encoder", Options: map[string]string{"activation": "gelU"}}, sdk.ErrBadOption, "relu, gelu (did you mean gelu?)"},
		{sdk.LoadRequest{Arch: "text_encoder", Options: map[string]string{"layer_norm_eps": "0"}}, sdk.ErrBadOption, "give a positive number"},
		{sdk.LoadRequest{Arch: "text_encoder", Options: map[string]string{"pooling": "max"}}, sdk.ErrBadOption, "mean, cls"},
	} {
		m, err := New().Load(context.Background(), &tc.req)
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Load(%s %v) = %v; want %v containing %q", tc.req.Arch, tc.req.Options, err, tc.want, tc.msg)
		}
	}
}

// TestInputErrors checks the input checks: sizes that are not multiples
// of the patch size, too many tokens, ids outside the vocabulary and bad
// lengths are clear errors, not crashes.
func TestInputErrors(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	vit, err := New().Load(ctx, &sdk.LoadRequest{Arch: "vit", Seed: 1, Threads: 1, Options: smallViT})
	if err != nil {
		t.Fatal(err)
	}
	defer vit.Close()
	txt, err := New().Load(ctx, &sdk.LoadRequest{Arch: "text_encoder", Seed: 1, Threads: 1, Options: smallText})
	if err != nil {
		t.Fatal(err)
	}
	defer txt.Close()
	ids := func(shape ...int64) *sdk.Tensor {
		x := &sdk.Tensor{Shape: shape, Int64: make([]int64, sdk.NumElements(shape))}
		for i := range x.Int64 {
			x.Int64[i] = int64(i % 30)
		}
		return x
	}
	for _, tc := range []struct {
		m    sdk.Model
		req  *sdk.ExtractRequest
		want string
	}{
		{vit, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 30, 40)}, "multiples of the patch size 8; resize or crop to 32x40"},
		{vit, &sdk.ExtractRequest{Input: sdk.Zeros(1, 1, 32, 32)}, "[N, 3, H, W] float32 images, H and W multiples of 8"},
		{vit, &sdk.ExtractRequest{Input: ids(1, 3, 8, 8)}, "want float32"},
		{txt, &sdk.ExtractRequest{Input: ids(2, 11)}, "11 tokens, but pos_embedding holds positions for 10"},
		{txt, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{1, 3}, Int64: []int64{1, 30, 2}}}, "token id 30 at flat index 1 is outside the embedding's range [0, 30)"},
		{txt, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{1, 3}, Int64: []int64{1, -1, 2}}}, "token id -1"},
		{txt, &sdk.ExtractRequest{Input: ids(2, 5), Lengths: []int64{5}}, "1 lengths for a batch of 2 sequences"},
		{txt, &sdk.ExtractRequest{Input: ids(2, 5), Lengths: []int64{5, 0}}, "sequence 1 has length 0: every sequence needs at least one step"},
		{txt, &sdk.ExtractRequest{Input: ids(2, 5), Lengths: []int64{6, 1}}, "sequence 0 has length 6, longer than the input's 5 steps"},
		{txt, &sdk.ExtractRequest{Input: sdk.Zeros(2, 5)}, "want int64"},
		{txt, &sdk.ExtractRequest{Input: ids(2, 5), Inputs: map[string]*sdk.Tensor{"mask": ids(2, 5)}}, "no named inputs"},
	} {
		_, err := tc.m.Extract(ctx, tc.req)
		if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Extract(%v) = %v; want sdk.ErrBadInput containing %q", tc.req.Input.Shape, err, tc.want)
		}
	}
	if _, err := vit.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{-1, 3, 20, 32}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Layers(20x32) = %v; want sdk.ErrBadInput", err)
	}
	// Sizes that work, from one session: 8x8 (a single patch), 32x32
	// and 40x24.
	for _, hw := range [][2]int64{{8, 8}, {32, 32}, {40, 24}} {
		out, err := vit.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(2, 3, hw[0], hw[1]), Layers: []string{"cls_token", "heads.head"}})
		if err != nil || !sdk.EqualShape(out.Outputs["heads.head"].Shape, []int64{2, 5}) {
			t.Errorf("Extract(%v) = %v, %v; want heads.head [2, 5]", hw, out, err)
		}
	}
}

// checkLoadMismatch loads the checkpoint of TestParitySmallViT's vit as
// vit_b_16, with contradicting options and as a text encoder: clear
// sdk.ErrWeights errors; and with torchvision's legacy MLP keys: the
// same outputs.
func checkLoadMismatch(t *testing.T, f *sdktest.Fixture, layers []string) {
	ctx := context.Background()
	for _, tc := range []struct {
		arch string
		opts map[string]string
		want []string
	}{
		{"vit_b_16", nil, []string{"missing", "hidden_dim 32, patch_size 8 and 3 layers: load it with --arch vit"}},
		{"vit", map[string]string{"num_heads": "4", "num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 7"}},
		{"vit", map[string]string{"num_heads": "4", "image_size": "64"}, []string{"image_size=64 but the checkpoint has 48"}},
		{"vit", map[string]string{"num_heads": "4", "representation_size": "0"}, []string{"representation_size=0 but the checkpoint has 24"}},
		{"text_encoder", nil, []string{"no 2-d embedding.weight and pos_embedding"}},
	} {
		m, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts, WeightsPath: f.Weights()})
		if err == nil {
			m.Close()
			t.Errorf("Load(%s %v) succeeded; want an error", tc.arch, tc.opts)
			continue
		}
		for _, w := range tc.want {
			if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%s %v) = %v; want sdk.ErrWeights containing %q", tc.arch, tc.opts, err, w)
			}
		}
	}

	// The same weights under torchvision's legacy MLPBlock keys.
	sd, err := bridge.Load(f.Weights())
	if err != nil {
		t.Fatal(err)
	}
	legacy := &bridge.StateDict{Tensors: map[string]*sdk.Tensor{}}
	r := strings.NewReplacer(".mlp.0.", ".mlp.linear_1.", ".mlp.3.", ".mlp.linear_2.")
	for _, k := range sd.Keys {
		legacy.Keys = append(legacy.Keys, r.Replace(k))
		legacy.Tensors[r.Replace(k)] = sd.Tensors[k]
	}
	if !slices.Contains(legacy.Keys, "encoder.layers.encoder_layer_1.mlp.linear_2.bias") {
		t.Fatalf("no legacy key in %v", legacy.Keys)
	}
	path := t.TempDir() + "/legacy.safetensors"
	if err := writeSafetensors(path, legacy); err != nil {
		t.Fatal(err)
	}
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "vit", WeightsPath: path, Threads: 1, Options: map[string]string{"num_heads": "4"}})
	if err != nil {
		t.Fatalf("Load(legacy keys) = %v", err)
	}
	defer m.Close()
	f.Check(t, m, layers)
}

func writeSafetensors(path string, sd *bridge.StateDict) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(bridge.WriteSafetensors(f, sd), f.Close())
}

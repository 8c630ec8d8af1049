package transformer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// needORT skips (or fails in CI) when the ONNX Runtime library is absent.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// makeViT runs testdata/make_parity.py for a ViT.
func makeViT(t *testing.T, arch string, h, w int, layers []string, extra ...string) *sdktest.Fixture {
	t.Helper()
	args := append([]string{arch, "--height", strconv.Itoa(h), "--width", strconv.Itoa(w),
		"--layers", strings.Join(layers, ",")}, extra...)
	return sdktest.MakeFixture(t, "testdata/make_parity.py", args...)
}

// vitLayers lists, for a ViT of n blocks, the stem, every module of the
// first block, the middle and last blocks with their attention and MLP,
// the encoder's norm, the pooled tokens and the heads.
func vitLayers(n int) []string {
	blk := func(i int) string { return "encoder.layers.encoder_layer_" + strconv.Itoa(i) }
	first := blk(0)
	out := []string{"conv_proj", "encoder.dropout",
		first + ".ln_1", first + ".self_attention", first + ".dropout", first + ".ln_2",
		first + ".mlp.0", first + ".mlp.1", first + ".mlp.2", first + ".mlp.3", first + ".mlp.4", first + ".mlp", first}
	for _, i := range []int{n / 2, n - 1} {
		out = append(out, blk(i)+".self_attention", blk(i)+".mlp", blk(i))
	}
	return append(out, "encoder.layers", "encoder.ln", "encoder", "cls_token", "patch_mean", "heads.head", "heads")
}

// TestParityViTB16 compares vit_b_16 with torchvision on one set of
// random weights (330 MB, drawn once): every listed layer at 224x224
// within 1e-4 scaled and no further from a float64 run than torch
// float32; the layer and parameter lists against named_modules and
// named_parameters; and at 288x320, which torchvision refuses, against
// torchvision run with its position embeddings resampled as timm does.
// One loaded model and one ONNX Runtime session serve both sizes.
func TestParityViTB16(t *testing.T) {
	if testing.Short() {
		t.Skip("-short leaves out vit_b_16's 330 MB of weights; TestParitySmallViT runs the same code")
	}
	needORT(t)
	layers := vitLayers(12)
	f := makeViT(t, "vit_b_16", 224, 224, layers, "--float64")
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "vit_b_16", WeightsPath: f.Weights(), Threads: 2})
	if err != nil {
		t.Fatalf("Load(vit_b_16): %v", err)
	}
	defer m.Close()
	t.Run("224x224", func(t *testing.T) {
		f.Check(t, m, layers)
		f.CheckCoverage(t, m, "cls_token", "patch_mean")
	})
	t.Run("288x320", func(t *testing.T) {
		g := makeViT(t, "vit_b_16", 288, 320, layers, "--weights", f.Weights())
		g.Check(t, m, layers)
	})
}

// TestParitySmallViT checks the arch vit (sizes as options, read from
// the checkpoint) with representation_size against torchvision at its
// image_size and at a grid shorter and wider than the checkpoint's, and
// on the same checkpoint the load errors (checkLoadMismatch).
func TestParitySmallViT(t *testing.T) {
	needORT(t)
	layers := append(vitLayers(3), "heads.pre_logits", "heads.act")
	var weights string
	for _, size := range [][2]int{{48, 48}, {32, 80}} {
		args := []string{"--sizes", "8,3,4,32,48", "--image-size", "48", "--representation-size", "24", "--num-classes", "7", "--batch", "3"}
		if weights != "" {
			args = append(args, "--weights", weights)
		}
		f := makeViT(t, "vit", size[0], size[1], layers, args...)
		if weights == "" {
			weights = f.Weights()
		}
		m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "vit", WeightsPath: weights, Threads: 1,
			Options: map[string]string{"num_heads": "4"}})
		if err != nil {
			t.Fatalf("Load(vit): %v", err)
		}
		t.Run(strconv.Itoa(size[0])+"x"+strconv.Itoa(size[1]), func(t *testing.T) {
			f.Check(t, m, layers)
			if size == [2]int{48, 48} { // torch's model holds resampled embeddings at other sizes
				f.CheckCoverage(t, m, "cls_token", "patch_mean")
				t.Run("mismatch", func(t *testing.T) { checkLoadMismatch(t, f, layers) })
			}
		})
		m.Close()
	}
}

// TestLayersMatchTorchvision compares the layers and parameters of
// vit_b_32, vit_l_16 and vit_l_32 with torchvision's named_modules and
// named_parameters, without weights (built in torch with its init
// skipped, in Go without a session).
func TestLayersMatchTorchvision(t *testing.T) {
	archs := []string{"vit_b_32", "vit_l_16", "vit_l_32"}
	f := sdktest.MakeFixture(t, "testdata/make_parity.py", "--meta", strings.Join(archs, ","))
	raw, err := os.ReadFile(filepath.Join(f.Dir, "archs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var torch map[string]struct {
		Modules   [][2]string          `json:"modules"`
		RawParams [][2]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(raw, &torch); err != nil {
		t.Fatal(err)
	}
	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			tv := torch[arch]
			b := newNet(t, arch, nil).Build([]int64{-1, 3, 224, 224})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]string{}
			for _, l := range b.Layers() {
				kinds[l.Name] = l.Kind
			}
			for _, mod := range tv.Modules {
				if k, ok := kinds[mod[0]]; !ok || k != mod[1] {
					t.Errorf("torch module %s (%s): layer kind %q", mod[0], mod[1], k)
				}
				delete(kinds, mod[0])
			}
			delete(kinds, "cls_token")
			delete(kinds, "patch_mean")
			if len(kinds) > 0 {
				t.Errorf("layers that are no torch module: %v", kinds)
			}
			ps := b.Params()
			if len(ps) != len(tv.RawParams) {
				t.Fatalf("%d params; torch has %d", len(ps), len(tv.RawParams))
			}
			for i, p := range tv.RawParams {
				var name string
				var shape []int64
				if json.Unmarshal(p[0], &name) != nil || json.Unmarshal(p[1], &shape) != nil {
					t.Fatalf("archs.json: bad param %s", p[0])
				}
				if ps[i].Name != name || !slices.Equal(ps[i].Shape, shape) {
					t.Errorf("param %d = %s %v; torch %s %v", i, ps[i].Name, ps[i].Shape, name, shape)
				}
			}
		})
	}
}

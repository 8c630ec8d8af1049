package transformer

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// textLayers lists every layer of a two-layer text encoder.
func textLayers(finalNorm, fc bool) []string {
	var out []string
	for _, l := range []string{"0", "1"} {
		p := "encoder.layers." + l
		out = append(out, p, p+".self_attn", p+".dropout1", p+".norm1", p+".linear1", p+".dropout", p+".linear2", p+".dropout2", p+".norm2")
	}
	out = append(out, "embedding", "encoder", "mean", "cls")
	if finalNorm {
		out = append(out, "encoder.norm")
	}
	if fc {
		out = append(out, "fc")
	}
	return out
}

// TestTextParity compares text_encoder with torch.nn.TransformerEncoder
// (testdata/text_encoder.py's TextEncoder) on a ragged batch with
// src_key_padding_mask: post-norm with relu, a final norm and fc over the
// mean, batch first; and norm_first with gelu, time-major, over the first
// token; every layer, on torch's standard path. Per-token outputs are
// compared with padded positions zeroed. The post-norm model is also
// compared with torch's fast path (fused layers over nested tensors),
// what users get in eval mode, on the outputs it lets hooks see.
func TestTextParity(t *testing.T) {
	needORT(t)
	for _, tc := range []struct {
		name      string
		args      []string
		opts      map[string]string
		finalNorm bool
		fc        bool
		layers    []string // default: textLayers
	}{
		{"post-norm", []string{"--final-norm", "--classes", "3", "--lengths", "9,4,1"},
			map[string]string{"nhead": "4"}, true, true, nil},
		{"norm_first", []string{"--norm-first", "--activation", "gelu", "--seq-first", "--pooling", "cls", "--lengths", "2,9,5", "--nhead", "8"},
			map[string]string{"nhead": "8", "norm_first": "true", "activation": "gelu", "batch_first": "false", "pooling": "cls"}, false, false, nil},
		{"fast path", []string{"--final-norm", "--classes", "3", "--lengths", "3,9,6", "--fast"},
			map[string]string{"nhead": "4"}, true, true, []string{"embedding", "encoder", "mean", "cls", "fc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := tc.layers
			if layers == nil {
				layers = textLayers(tc.finalNorm, tc.fc)
			}
			args := append(slices.Clone(tc.args), "--outputs", strings.Join(layers, ","))
			f := sdktest.MakeFixture(t, "testdata/text_encoder.py", args...)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "text_encoder", WeightsPath: f.Weights(), Options: tc.opts, Threads: 1})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			lengths := f.InputTensor(t, 1).Int64
			f.Check(t, m, layers, func(r *sdk.ExtractRequest) { r.Lengths = lengths })
			f.CheckCoverage(t, m, "encoder.layers", "mean", "cls")
		})
	}
}

// TestPaddingInvariance checks on seeded models that padding never
// changes a sequence's features: each sequence of a ragged batch gives
// the features it gives alone, whatever the padding tokens are, and every
// per-token layer is zero at padded positions.
func TestPaddingInvariance(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, nf := range []string{"false", "true"} {
		for _, bf := range []string{"true", "false"} {
			t.Run("norm_first="+nf+",batch_first="+bf, func(t *testing.T) {
				m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "text_encoder", Seed: 5, Threads: 1, Options: map[string]string{
					"num_embeddings": "40", "d_model": "16", "nhead": "2", "dim_feedforward": "24", "num_layers": "2", "max_len": "12",
					"norm_first": nf, "batch_first": bf, "final_norm": "true", "num_classes": "3", "activation": "gelu"}})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				checkPadding(t, m, bf == "true")
			})
		}
	}
}

func checkPadding(t *testing.T, m sdk.Model, batchFirst bool) {
	ctx := context.Background()
	seqs := [][]int64{{3, 1, 4, 1, 5, 9, 2, 6, 5}, {35, 8, 9, 7}, {2}}
	const T = 9
	perToken := []string{"embedding", "encoder.layers.0", "encoder.layers.1.self_attn", "encoder.layers.1.linear1", "encoder.norm", "encoder"}
	pooled := []string{"mean", "cls", "fc"}
	layers := append(slices.Clone(perToken), pooled...)
	// at returns the flat index of token t of sequence n in [N, T, ...]
	// or [T, N, ...] with f features.
	at := func(n, tok, N, f int) int {
		if batchFirst {
			return (n*T + tok) * f
		}
		return (tok*N + n) * f
	}
	batch := func(pad int64) *sdk.Tensor {
		x := &sdk.Tensor{Shape: []int64{3, T}, Int64: make([]int64, 3*T)}
		if !batchFirst {
			x.Shape = []int64{T, 3}
		}
		for n, s := range seqs {
			for tok := range T {
				v := pad + int64(tok)
				if tok < len(s) {
					v = s[tok]
				}
				x.Int64[at(n, tok, 3, 1)] = v
			}
		}
		return x
	}
	lengths := []int64{9, 4, 1}
	a, err := m.Extract(ctx, &sdk.ExtractRequest{Input: batch(0), Lengths: lengths, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Extract(ctx, &sdk.ExtractRequest{Input: batch(20), Lengths: lengths, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if !slices.Equal(a.Outputs[l].Float32, b.Outputs[l].Float32) {
			t.Errorf("layer %s changes with the padding tokens", l)
		}
	}
	for n, s := range seqs {
		shape := []int64{1, int64(len(s))}
		if !batchFirst {
			shape = []int64{int64(len(s)), 1}
		}
		alone, err := m.Extract(ctx, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: shape, Int64: s}, Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range perToken {
			got, want := a.Outputs[l], alone.Outputs[l]
			f := int(got.Shape[2])
			var diff, scale float64
			for tok := range T {
				for i := range f {
					v := float64(got.Float32[at(n, tok, 3, f)+i])
					if tok >= len(s) {
						if v != 0 {
							t.Fatalf("layer %s: sequence %d token %d (padding) = %v; want 0", l, n, tok, v)
						}
						continue
					}
					w := float64(want.Float32[at(0, tok, 1, f)+i])
					diff, scale = math.Max(diff, math.Abs(v-w)), math.Max(scale, math.Abs(w))
				}
			}
			if diff > 1e-5*math.Max(1, scale) {
				t.Errorf("layer %s: sequence %d in the batch differs from alone by %.3g (max %.3g)", l, n, diff, scale)
			}
		}
		for _, l := range pooled {
			got, want := a.Outputs[l], alone.Outputs[l]
			f := int(got.Shape[1])
			d, s := sdktest.MaxDiff(got.Float32[n*f:(n+1)*f], want.Float32)
			if d > 1e-5*math.Max(1, s) {
				t.Errorf("layer %s: sequence %d in the batch differs from alone by %.3g", l, n, d)
			}
		}
	}
}

package lstm

import (
	"context"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// makeFixture runs testdata/make_parity.py (args: ARCH and its flags).
func makeFixture(t *testing.T, args ...string) *sdktest.Fixture {
	t.Helper()
	return sdktest.MakeFixture(t, "testdata/make_parity.py", args...)
}

// lengths is the request hook that gives the fixture's lengths (its
// second input).
func lengths(t *testing.T, f *sdktest.Fixture) func(*sdk.ExtractRequest) {
	return func(r *sdk.ExtractRequest) { r.Lengths = f.InputTensor(t, 1).Int64 }
}

// checkFixture loads f's checkpoint as arch with opts and checks every
// tap against torch (sdktest.Fixture.Check), then the layers and params
// against torch's modules and parameters: the taps that are not torch
// modules (each stacked layer, h_n, c_n, last, mean) are exempt from
// the module comparison.
func checkFixture(t *testing.T, f *sdktest.Fixture, arch string, opts map[string]string) {
	t.Helper()
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: arch, Options: opts, WeightsPath: f.Weights(), Threads: 1})
	if err != nil {
		t.Fatalf("Load(%s, %v): %v", arch, opts, err)
	}
	defer m.Close()
	layers := slices.Sorted(maps.Keys(f.Outputs))
	f.Check(t, m, layers, lengths(t, f))
	var extra []string
	for _, l := range layers {
		if l != "embedding" && l != arch && l != "fc" {
			extra = append(extra, l)
		}
	}
	f.CheckCoverage(t, m, extra...)
}

// parityCases cover 1-3 layers, both directions, both layouts, proj_size,
// no bias, the embedding front, fc on each input, ragged batches, and
// bare and module checkpoints. Options are the ones no checkpoint holds.
var parityCases = []struct {
	name string
	args []string
	opts map[string]string
}{
	{"lstm_1layer_tn", []string{"lstm", "--num-layers", "1"}, map[string]string{"batch_first": "false"}},
	{"lstm_2layer_bi_ragged_tn_bare", []string{"lstm", "--num-layers", "2", "--bidirectional", "--ragged", "--bare"}, map[string]string{"num_layers": "2", "bidirectional": "true", "batch_first": "false"}},
	{"lstm_3layer_bf_ragged_fc", []string{"lstm", "--num-layers", "3", "--batch-first", "--ragged", "--fc", "3"}, nil},
	{"lstm_proj_bi_ragged_fc_hn", []string{"lstm", "--num-layers", "2", "--bidirectional", "--proj", "4", "--ragged", "--fc", "3", "--fc-input", "h_n"}, map[string]string{"batch_first": "false", "fc_input": "h_n"}},
	{"lstm_2layer_bi_ragged_fc_hn_last", []string{"lstm", "--num-layers", "2", "--bidirectional", "--ragged", "--fc", "3", "--fc-input", "h_n_last", "--batch-first"}, map[string]string{"fc_input": "h_n_last"}},
	{"lstm_embedding_bf_ragged", []string{"lstm", "--embedding", "11", "--batch-first", "--ragged", "--bidirectional", "--fc", "2", "--fc-input", "mean"}, map[string]string{"fc_input": "mean"}},
	{"lstm_nobias_bf", []string{"lstm", "--no-bias", "--batch-first", "--num-layers", "2"}, nil},
	{"gru_1layer_bf", []string{"gru", "--batch-first"}, nil},
	{"gru_2layer_bi_ragged_tn", []string{"gru", "--num-layers", "2", "--bidirectional", "--ragged"}, map[string]string{"batch_first": "false"}},
	{"gru_2layer_bi_ragged_tn_fc_hn_last", []string{"gru", "--num-layers", "2", "--bidirectional", "--ragged", "--fc", "4", "--fc-input", "h_n_last"}, map[string]string{"batch_first": "false", "fc_input": "h_n_last"}},
	{"gru_3layer_bi_ragged_bf_fc_bare", []string{"gru", "--num-layers", "3", "--bidirectional", "--ragged", "--batch-first", "--bare"}, nil},
	{"gru_embedding_tn_ragged_fc", []string{"gru", "--embedding", "9", "--ragged", "--fc", "4"}, map[string]string{"batch_first": "false"}},
	{"gru_nobias_tn_ragged", []string{"gru", "--no-bias", "--ragged", "--bidirectional"}, map[string]string{"batch_first": "false"}},
}

// TestParity runs each case's PyTorch module and ours on the same
// checkpoint, input and lengths and compares every tap, the layers and
// the params (the fixtures made in one PyTorch run).
func TestParity(t *testing.T) {
	needORT(t)
	var cases [][]string
	for _, c := range parityCases {
		cases = append(cases, c.args)
	}
	fixtures := sdktest.MakeFixtures(t, "testdata/make_parity.py", cases)
	for i, c := range parityCases {
		t.Run(c.name, func(t *testing.T) { checkFixture(t, fixtures[i], c.args[0], c.opts) })
	}
}

// TestPaddingInvariance checks that a sequence's features do not depend
// on what its padding holds or on the other sequences of its batch.
func TestPaddingInvariance(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, arch := range []string{"lstm", "gru"} {
		m, err := New().Load(ctx, &sdk.LoadRequest{Arch: arch, Seed: 3, Threads: 1,
			Options: map[string]string{"num_layers": "2", "bidirectional": "true", "input_size": "3", "hidden_size": "5", "batch_first": "false"}})
		if err != nil {
			t.Fatal(err)
		}
		T, N, F := int64(6), int64(3), int64(3)
		x := sdk.Zeros(T, N, F)
		for i := range x.Float32 {
			x.Float32[i] = float32(math.Sin(float64(i)))
		}
		layers := []string{"h_n", "last", "mean", arch}
		full, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Lengths: []int64{2, 6, 4}, Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		// Sequence 0 alone, cut to its 2 steps.
		one := sdk.Zeros(2, 1, F)
		for s := int64(0); s < 2; s++ {
			copy(one.Float32[s*F:(s+1)*F], x.Float32[(s*N)*F:(s*N+1)*F])
		}
		alone, err := m.Extract(ctx, &sdk.ExtractRequest{Input: one, Lengths: []int64{2}, Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"last", "mean"} {
			d, _ := sdktest.MaxDiff(alone.Outputs[l].Float32, full.Outputs[l].Float32[:len(alone.Outputs[l].Float32)])
			if d > 1e-5 {
				t.Errorf("%s %s: sequence 0 alone differs from it in a padded batch by %g", arch, l, d)
			}
		}
		hn := full.Outputs["h_n"] // [4, 3, 5]: sequence 0 is [:, 0, :]
		for k := int64(0); k < 4; k++ {
			d, _ := sdktest.MaxDiff(alone.Outputs["h_n"].Float32[k*5:(k+1)*5], hn.Float32[(k*3)*5:(k*3+1)*5])
			if d > 1e-5 {
				t.Errorf("%s h_n[%d]: sequence 0 alone differs by %g", arch, k, d)
			}
		}
		out := full.Outputs[arch] // padding steps are zero
		for s := int64(2); s < T; s++ {
			for j := int64(0); j < 10; j++ {
				if v := out.Float32[(s*N)*10+j]; v != 0 {
					t.Fatalf("%s output at padded step %d = %g; want 0", arch, s, v)
				}
			}
		}
		m.Close()
	}
}

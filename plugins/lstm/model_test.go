package lstm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestSunspots trains an LSTM forecaster in PyTorch on the statsmodels
// sunspot series and checks that gozoo gives the same features on the
// held-out windows, ragged ones included.
func TestSunspots(t *testing.T) {
	py := testenv.Python(t)
	if out, err := exec(py, "-c", "import statsmodels"); err != nil {
		testenv.Missing(t, "python3-statsmodels", "apt-get install -y python3-statsmodels: "+out)
	}
	needORT(t)
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/train_sunspots.py", dir)
	f := &fixture{dir: dir}
	var err error
	if f.input, err = npy.ReadFile(filepath.Join(dir, "input.npy")); err != nil {
		t.Fatal(err)
	}
	if f.lengths, err = npy.ReadFile(filepath.Join(dir, "lengths.npy")); err != nil {
		t.Fatal(err)
	}
	if f.outputs, f.names, err = npy.ReadNPZ(filepath.Join(dir, "outputs.npz")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "lstm", WeightsPath: filepath.Join(dir, "weights.pth"), Options: map[string]string{"batch_first": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := m.Extract(ctx, &sdk.ExtractRequest{Input: f.input, Lengths: f.lengths.Int64, Layers: f.names})
	if err != nil {
		t.Fatal(err)
	}
	worst := compare(t, f, resp.Outputs)
	meta, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	t.Logf("sunspots: %d held-out windows %v, taps %v: worst diff/max(1,|torch|) %.3g; training %s", f.input.Shape[0], f.input.Shape, f.names, worst, meta)
	var losses struct{ HeldoutMSE, NaiveMSE float64 }
	json.Unmarshal(meta, &struct {
		H *float64 `json:"heldout_mse"`
		N *float64 `json:"naive_mse"`
	}{&losses.HeldoutMSE, &losses.NaiveMSE})
	if !(losses.HeldoutMSE < losses.NaiveMSE) {
		t.Errorf("the trained LSTM (held-out MSE %g) does not beat repeating the last year (%g): training failed", losses.HeldoutMSE, losses.NaiveMSE)
	}
}

// TestBadInput checks the errors for lengths longer than T, zero-length
// sequences, token ids outside the embedding, wrong dtypes and shapes,
// and checkpoints whose shapes contradict the options.
func TestBadInput(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "lstm", Seed: 1, Options: map[string]string{"input_size": "3", "hidden_size": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	emb, err := New().Load(ctx, &sdk.LoadRequest{Arch: "gru", Seed: 1, Options: map[string]string{"num_embeddings": "10", "input_size": "3", "hidden_size": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	x := sdk.Zeros(2, 5, 3) // [N, T, F]
	ids := &sdk.Tensor{Shape: []int64{2, 5}, Int64: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	tests := []struct {
		name string
		m    sdk.Model
		req  *sdk.ExtractRequest
		want []string
	}{
		{"lengths>T", m, &sdk.ExtractRequest{Input: x, Lengths: []int64{5, 6}}, []string{"length 6", "longer than the input's 5 steps"}},
		{"zero length", m, &sdk.ExtractRequest{Input: x, Lengths: []int64{0, 5}}, []string{"sequence 0 has length 0", "at least one step"}},
		{"negative length", m, &sdk.ExtractRequest{Input: x, Lengths: []int64{-1, 5}}, []string{"length -1"}},
		{"lengths count", m, &sdk.ExtractRequest{Input: x, Lengths: []int64{5}}, []string{"1 lengths for a batch of 2"}},
		{"token id range", emb, &sdk.ExtractRequest{Input: ids}, []string{"token id 10", "[0, 10)"}},
		{"negative token id", emb, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{1, 2}, Int64: []int64{-3, 1}}}, []string{"token id -3"}},
		{"float into embedding", emb, &sdk.ExtractRequest{Input: sdk.Zeros(2, 5)}, []string{"token ids"}},
		{"ids without embedding", m, &sdk.ExtractRequest{Input: ids}, []string{"need an embedding"}},
		{"features", m, &sdk.ExtractRequest{Input: sdk.Zeros(2, 5, 4)}, []string{"[N, T, 3] float32"}},
		{"zero steps", m, &sdk.ExtractRequest{Input: sdk.Zeros(2, 0, 3)}, []string{"want"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Extract(ctx, tc.req)
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Fatalf("Extract = %v; want ErrBadInput", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Extract error %q lacks %q", err, s)
				}
			}
		})
	}
}

// TestCheckpointContradictions checks that options contradicting the
// checkpoint's shapes, and a checkpoint of the other arch, are clear
// errors, and that agreeing options load.
func TestCheckpointContradictions(t *testing.T) {
	testenv.Python(t)
	f := makeFixture(t, "lstm", "--num-layers", "2", "--bidirectional", "--hidden", "6", "--fc", "3", "--embedding", "7")
	path := filepath.Join(f.dir, "weights.pth")
	tests := []struct {
		arch string
		opts map[string]string
		want []string
		is   error
	}{
		{"lstm", map[string]string{"num_layers": "3"}, []string{"num_layers=3 but the checkpoint has 2"}, sdk.ErrWeights},
		{"lstm", map[string]string{"hidden_size": "8", "bidirectional": "false"}, []string{"hidden_size=8 but the checkpoint has 6", "bidirectional=false but the checkpoint has true"}, sdk.ErrWeights},
		{"lstm", map[string]string{"input_size": "4"}, []string{"input_size=4 but the checkpoint has 5"}, sdk.ErrWeights},
		{"lstm", map[string]string{"num_embeddings": "8"}, []string{"num_embeddings=8 but the checkpoint has 7"}, sdk.ErrWeights},
		{"lstm", map[string]string{"proj_size": "2"}, []string{"proj_size=2 but the checkpoint has 0"}, sdk.ErrWeights},
		{"lstm", map[string]string{"num_classes": "5"}, []string{"num_classes=5 but the checkpoint has 3"}, sdk.ErrWeights},
		{"gru", nil, []string{"holds a LSTM", "--arch lstm"}, sdk.ErrWeights},
		{"lstm", map[string]string{"hidden": "6"}, []string{"hidden_size"}, sdk.ErrBadOption},
		{"lstm", map[string]string{"num_layers": "2", "hidden_size": "6", "bidirectional": "true", "batch_first": "false"}, nil, nil},
	}
	for _, tc := range tests {
		m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts, WeightsPath: path})
		if tc.is == nil {
			if err != nil {
				t.Errorf("Load(%s, %v) = %v; want success", tc.arch, tc.opts, err)
			} else {
				m.Close()
			}
			continue
		}
		if !errors.Is(err, tc.is) {
			t.Errorf("Load(%s, %v) = %v; want %v", tc.arch, tc.opts, err, tc.is)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Load(%s, %v) error %q lacks %q", tc.arch, tc.opts, err, s)
			}
		}
	}
}

// TestConformance runs the sdktest suite against the built plugin binary
// for both archs, and freezes and unfreezes by the parameter names.
func TestConformance(t *testing.T) {
	needORT(t)
	dir := testenv.BuildPlugin(t, "lstm")
	bb := sdktest.Start(t, filepath.Join(dir, "gozoo-backbone-lstm"))
	for _, arch := range []string{"lstm", "gru"} {
		t.Run(arch, func(t *testing.T) {
			sdktest.Run(t, bb, sdktest.WithArch(arch), sdktest.WithInputShape(-1, 6, 8),
				sdktest.WithLoadOptions(map[string]string{"num_layers": "2", "bidirectional": "true", "num_classes": "3"}),
				sdktest.WithLayers(arch, arch+".l0", "h_n", "last", "mean", "fc"))
		})
	}
	t.Run("proj_size", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("lstm"), sdktest.WithInputShape(-1, 6, 8),
			sdktest.WithLoadOptions(map[string]string{"num_layers": "2", "proj_size": "4", "batch_first": "true"}),
			sdktest.WithLayers("lstm", "c_n", "h_n"))
	})
	t.Run("freeze", func(t *testing.T) {
		ctx := context.Background()
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "lstm", Options: map[string]string{"num_layers": "3", "bidirectional": "true", "num_classes": "2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}, Trainable: false}); err != nil {
			t.Fatal(err)
		}
		resp, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"lstm.*_l1*", "fc.*"}, Trainable: true})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
			"lstm.weight_ih_l1_reverse", "lstm.weight_hh_l1_reverse", "lstm.bias_ih_l1_reverse", "lstm.bias_hh_l1_reverse", "fc.weight", "fc.bias"}
		if !slices.Equal(resp.Matched, want) {
			t.Errorf("SetTrainable(lstm.*_l1*, fc.*) matched %v; want %v", resp.Matched, want)
		}
		ps, _ := m.Params(ctx)
		for _, p := range ps {
			if p.Trainable != slices.Contains(want, p.Name) {
				t.Errorf("%s trainable = %v", p.Name, p.Trainable)
			}
		}
	})
}

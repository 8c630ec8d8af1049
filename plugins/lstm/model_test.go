package lstm

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
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
	f := sdktest.MakeFixture(t, "testdata/train_sunspots.py")
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "lstm", WeightsPath: f.Weights(), Options: map[string]string{"batch_first": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f.Check(t, m, slices.Sorted(maps.Keys(f.Outputs)), lengths(t, f))
	b, err := os.ReadFile(filepath.Join(f.Dir, "losses.json"))
	if err != nil {
		t.Fatal(err)
	}
	var losses struct {
		HeldoutMSE float64 `json:"heldout_mse"`
		NaiveMSE   float64 `json:"naive_mse"`
	}
	if err := json.Unmarshal(b, &losses); err != nil {
		t.Fatal(err)
	}
	t.Logf("sunspots: %d held-out windows %v; training %s", f.Input[0], f.Input, b)
	if !(losses.HeldoutMSE < losses.NaiveMSE) {
		t.Errorf("the trained LSTM (held-out MSE %g) does not beat repeating the last year (%g): training failed", losses.HeldoutMSE, losses.NaiveMSE)
	}
}

// TestBadInput checks the errors for lengths longer than T, zero-length
// sequences, token ids outside the embedding, wrong dtypes and shapes.
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
	tn, err := New().Load(ctx, &sdk.LoadRequest{Arch: "lstm", Seed: 1, Options: map[string]string{"input_size": "3", "batch_first": "false", "proj_size": "2", "hidden_size": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
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
		{"named inputs", m, &sdk.ExtractRequest{Input: x, Inputs: map[string]*sdk.Tensor{"lengths": ids}}, []string{"give per-sequence lengths as Lengths"}},
		{"token id range", emb, &sdk.ExtractRequest{Input: ids}, []string{"token id 10", "[0, 10)"}},
		{"negative token id", emb, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{1, 2}, Int64: []int64{-3, 1}}}, []string{"token id -3"}},
		{"float into embedding", emb, &sdk.ExtractRequest{Input: sdk.Zeros(2, 5)}, []string{"want int64 [N, *]: give token ids, [N, T] int64"}},
		{"ids without embedding", m, &sdk.ExtractRequest{Input: ids}, []string{"give [N, T, 3] float32 sequences", "need an embedding"}},
		{"features", m, &sdk.ExtractRequest{Input: sdk.Zeros(2, 5, 4)}, []string{"want float32 [N, *, 3]", "[N, T, 3] float32"}},
		{"zero steps", m, &sdk.ExtractRequest{Input: sdk.Zeros(2, 0, 3)}, []string{"want"}},
		{"sequence-major layout", tn, &sdk.ExtractRequest{Input: sdk.Zeros(5, 2, 4)}, []string{"[T, N, 3] float32", "batch_first"}},
		{"unrolled steps", tn, &sdk.ExtractRequest{Input: sdk.Zeros(maxUnrolled+1, 1, 3)}, []string{"1025 steps", "at most 1024"}},
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

// checkpoint returns the seeded init of arch configured by opts as a
// checkpoint, its state_dict edited by edit when given.
func checkpoint(t *testing.T, arch string, opts map[string]string, edit func(map[string]*sdk.Tensor)) string {
	t.Helper()
	n := configure(t, arch, opts)
	sd := nn.RandomWeights(n.Build(n.DefaultInput()).Specs(), 1).StateDict()
	if edit != nil {
		edit(sd)
	}
	return sdktest.WriteCheckpoint(t, sd)
}

// TestCheckpointContradictions checks that options contradicting the
// checkpoint's shapes are errors naming both values and no option the
// user did not give, that the other arch's checkpoint is refused by its
// keys or its gates, that an fc fitting another fc_input says which, and
// that agreeing options load. (TestParity loads PyTorch's checkpoints,
// bare and module ones, without these options.)
func TestCheckpointContradictions(t *testing.T) {
	needORT(t)
	// Bidirectional, hidden 6: last, mean and h_n give 12 features,
	// h_n_last 6; fc reads last.
	opts := map[string]string{"num_layers": "2", "bidirectional": "true", "hidden_size": "6", "input_size": "5", "num_classes": "3", "num_embeddings": "7"}
	path := checkpoint(t, "lstm", opts, nil)
	narrow := checkpoint(t, "lstm", with(opts, "fc_input", "h_n_last"), nil)
	odd := checkpoint(t, "lstm", opts, func(sd map[string]*sdk.Tensor) { sd["fc.weight"] = sdk.Zeros(3, 5) })
	// A bare LSTM's keys, which a gru takes as its own until the gates
	// do not fit.
	bare := checkpoint(t, "lstm", map[string]string{"hidden_size": "6"}, func(sd map[string]*sdk.Tensor) {
		for _, k := range slices.Collect(maps.Keys(sd)) {
			if r, ok := strings.CutPrefix(k, "lstm."); ok {
				sd[r] = sd[k]
			}
			delete(sd, k)
		}
	})
	tests := []struct {
		name, arch, path string
		opts             map[string]string
		want, not        []string
		is               error
	}{
		{"num_layers", "lstm", path, map[string]string{"num_layers": "3"}, []string{"num_layers=3 but the checkpoint has 2"}, []string{"hidden_size", "drop"}, sdk.ErrWeights},
		{"two", "lstm", path, map[string]string{"hidden_size": "8", "bidirectional": "false"}, []string{"hidden_size=8 but the checkpoint has 6", "bidirectional=false but the checkpoint has true"}, []string{"num_layers"}, sdk.ErrWeights},
		{"input_size", "lstm", path, map[string]string{"input_size": "4"}, []string{"input_size=4 but the checkpoint has 5"}, []string{"embedding_dim"}, sdk.ErrWeights},
		{"embedding_dim", "lstm", path, map[string]string{"embedding_dim": "4"}, []string{"embedding_dim=4 but the checkpoint has 5"}, []string{"input_size"}, sdk.ErrWeights},
		{"num_embeddings", "lstm", path, map[string]string{"num_embeddings": "8"}, []string{"num_embeddings=8 but the checkpoint has 7"}, nil, sdk.ErrWeights},
		{"proj_size", "lstm", path, map[string]string{"proj_size": "2"}, []string{"proj_size=2 but the checkpoint has 0"}, nil, sdk.ErrWeights},
		{"num_classes", "lstm", path, map[string]string{"num_classes": "5"}, []string{"num_classes=5 but the checkpoint has 3"}, []string{"fc_input"}, sdk.ErrWeights},
		{"fc_bias", "lstm", path, map[string]string{"fc_bias": "false"}, []string{"fc_bias=false but the checkpoint has true"}, nil, sdk.ErrWeights},
		{"gru keys", "gru", path, nil, []string{"holds a LSTM", "--arch lstm"}, nil, sdk.ErrWeights},
		{"gru gates", "gru", bare, nil, []string{"do not fit 3 gates", "nn.LSTM", "--arch lstm"}, nil, sdk.ErrWeights},
		{"unknown option", "lstm", path, map[string]string{"hidden": "6"}, []string{"did you mean hidden_size?"}, nil, sdk.ErrBadOption},
		{"fc_input h_n_last on a wide fc", "lstm", path, map[string]string{"fc_input": "h_n_last"},
			[]string{"fc takes 12 features; fc_input=last/mean need 12, h_n needs 12, h_n_last needs 6", "set fc_input to the one the module's forward feeds fc: last, mean, h_n"}, []string{"num_classes"}, sdk.ErrWeights},
		{"narrow fc by default", "lstm", narrow, nil,
			[]string{"fc takes 6 features; fc_input=last/mean need 12, h_n needs 12, h_n_last needs 6 (fc_input is last)", "set fc_input=h_n_last"}, []string{"num_classes"}, sdk.ErrWeights},
		{"narrow fc with mean", "lstm", narrow, map[string]string{"fc_input": "mean"}, []string{"set fc_input=h_n_last"}, nil, sdk.ErrWeights},
		{"fc fits nothing", "lstm", odd, nil, []string{"fc takes 5 features", "save the state_dict without fc"}, []string{"set fc_input"}, sdk.ErrWeights},
		{"narrow fc with h_n_last", "lstm", narrow, map[string]string{"fc_input": "h_n_last"}, nil, nil, nil},
		{"agreeing options", "lstm", path, map[string]string{"num_layers": "2", "hidden_size": "6", "bidirectional": "true", "batch_first": "false", "embedding_dim": "5"}, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts, WeightsPath: tc.path})
			if tc.is == nil {
				if err != nil {
					t.Fatalf("Load(%s, %v) = %v; want success", tc.arch, tc.opts, err)
				}
				m.Close()
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("Load(%s, %v) = %v; want %v", tc.arch, tc.opts, err, tc.is)
			}
			t.Log(err)
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load(%s, %v) error %q lacks %q", tc.arch, tc.opts, err, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Load(%s, %v) error %q names %q, which is not at fault", tc.arch, tc.opts, err, s)
				}
			}
		})
	}
}

// with returns opts with k set to v.
func with(opts map[string]string, k, v string) map[string]string {
	o := maps.Clone(opts)
	o[k] = v
	return o
}

// TestOptionErrors checks options that contradict each other.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		arch string
		opts map[string]string
		want string
	}{
		{"lstm", map[string]string{"proj_size": "16"}, "proj_size 16"},
		{"lstm", map[string]string{"embedding_dim": "8"}, "embedding_dim without num_embeddings"},
		{"lstm", map[string]string{"num_embeddings": "5", "embedding_dim": "4"}, "embedding_dim 4 differs from input_size 8"},
		{"gru", map[string]string{"proj_size": "2"}, "gru takes input_size"},
		{"gru", map[string]string{"fc_input": "h_n_lats"}, "did you mean h_n_last?"},
	} {
		_, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts})
		if !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s, %v) = %v; want ErrBadOption with %q", tc.arch, tc.opts, err, tc.want)
		}
	}
}

// configure returns arch configured by opts.
func configure(t *testing.T, arch string, opts map[string]string) backbone.Net {
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

// TestInputSpec checks the input each layout and front reports: the
// batch axis a host batches along and the dtype.
func TestInputSpec(t *testing.T) {
	for _, tc := range []struct {
		arch  string
		opts  map[string]string
		shape []int64
		axis  int
		dtype sdk.DType
	}{
		{"lstm", nil, []int64{-1, -1, 8}, 0, sdk.Float32},
		{"lstm", map[string]string{"batch_first": "false", "input_size": "3"}, []int64{-1, -1, 3}, 1, sdk.Float32},
		{"gru", map[string]string{"num_embeddings": "20"}, []int64{-1, -1}, 0, sdk.Int64},
		{"gru", map[string]string{"num_embeddings": "20", "batch_first": "false"}, []int64{-1, -1}, 1, sdk.Int64},
	} {
		in := configure(t, tc.arch, tc.opts).Input()
		if !sdk.EqualShape(in.Shape, tc.shape) || in.BatchAxis != tc.axis || in.DType != tc.dtype {
			t.Errorf("%s %v: Input() = %+v; want %v, batch axis %d, %s", tc.arch, tc.opts, in, tc.shape, tc.axis, tc.dtype)
		}
	}
}

// TestLayerShapes checks Layers for a sequence-major input and fc on
// each of its inputs, without running anything.
func TestLayerShapes(t *testing.T) {
	ctx := context.Background()
	for _, fcInput := range fcInputs {
		opts := map[string]string{"batch_first": "false", "bidirectional": "true", "num_layers": "2", "hidden_size": "6", "proj_size": "4", "num_classes": "3", "fc_input": fcInput}
		m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "lstm", Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{7, 2, 8}})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"lstm": "[7, N, 8]", "h_n": "[4, N, 4]", "c_n": "[4, N, 6]", "last": "[N, 8]", "fc": "[N, 3]"}
		params := map[string]int64{"fc": 3*8 + 3}
		if fcInput == "h_n_last" {
			params["fc"] = 3*4 + 3
		}
		for _, l := range ls {
			if w, ok := want[l.Name]; ok && sdk.FormatShape(l.Shape) != w {
				t.Errorf("fc_input=%s: Layers([7, 2, 8]) %s = %s; want %s", fcInput, l.Name, sdk.FormatShape(l.Shape), w)
			}
			if p, ok := params[l.Name]; ok && l.Params != p {
				t.Errorf("fc_input=%s: %s has %d params; want %d", fcInput, l.Name, l.Params, p)
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
	t.Run("h_n_last", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("gru"), sdktest.WithInputShape(-1, 5, 8),
			sdktest.WithLoadOptions(map[string]string{"bidirectional": "true", "num_classes": "2", "fc_input": "h_n_last"}),
			sdktest.WithLayers("h_n", "fc"))
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

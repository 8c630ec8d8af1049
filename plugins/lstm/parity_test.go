package lstm

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// fixture is what testdata/make_parity.py wrote.
type fixture struct {
	dir     string
	input   *sdk.Tensor
	lengths *sdk.Tensor
	outputs map[string]*sdk.Tensor
	names   []string
	params  [][2]json.RawMessage
}

func makeFixture(t *testing.T, args ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_parity.py", append([]string{args[0], dir}, args[1:]...)...)
	return readFixture(t, dir)
}

// makeFixtures writes one fixture per argument list in a single Python
// run and returns them in order.
func makeFixtures(t *testing.T, cases [][]string) []*fixture {
	t.Helper()
	root := t.TempDir()
	var lines []string
	for i, args := range cases {
		dir := filepath.Join(root, strconv.Itoa(i))
		lines = append(lines, strings.Join(append([]string{args[0], dir}, args[1:]...), " "))
	}
	list := filepath.Join(root, "cases.txt")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.RunPython(t, "testdata/make_parity.py", "--cases", list)
	out := make([]*fixture, len(cases))
	for i := range cases {
		out[i] = readFixture(t, filepath.Join(root, strconv.Itoa(i)))
	}
	return out
}

func readFixture(t *testing.T, dir string) *fixture {
	t.Helper()
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
	sort.Strings(f.names)
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Params [][2]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	f.params = meta.Params
	return f
}

// maxDiff returns max |a-b| and max |want|.
func maxDiff(got, want []float32) (diff, scale float64) {
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.Inf(1), 0
		}
		diff = math.Max(diff, d)
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// compare checks every torch tap against ours within
// 1e-4 * max(1, max |torch|) and returns the worst scaled difference.
func compare(t *testing.T, f *fixture, got map[string]*sdk.Tensor) float64 {
	t.Helper()
	worst := 0.0
	for _, name := range f.names {
		want, g := f.outputs[name], got[name]
		if g == nil {
			t.Errorf("no output for tap %s", name)
			continue
		}
		if !sdk.EqualShape(g.Shape, want.Shape) {
			t.Errorf("tap %s: shape %v; torch %v", name, g.Shape, want.Shape)
			continue
		}
		diff, scale := maxDiff(g.Float32, want.Float32)
		worst = math.Max(worst, diff/math.Max(1, scale))
		if tol := 1e-4 * math.Max(1, scale); !(diff <= tol) {
			t.Errorf("tap %s: max |ours - torch| = %.3g > %.3g (max |torch| = %.3g)", name, diff, tol, scale)
		} else if testing.Verbose() {
			t.Logf("  %-8s %-14v max abs diff %.3g, max |torch| %.3g", name, want.Shape, diff, scale)
		}
	}
	return worst
}

// parityCases cover 1-3 layers, both directions, both layouts, proj_size,
// no bias, the embedding front, fc on each input, ragged batches, and
// bare and module checkpoints.
var parityCases = []struct {
	name string
	args []string
	opts map[string]string
}{
	{"lstm_1layer_tn", []string{"lstm", "--num-layers", "1"}, map[string]string{"batch_first": "false"}},
	{"lstm_2layer_bi_ragged_tn_bare", []string{"lstm", "--num-layers", "2", "--bidirectional", "--ragged", "--bare"}, map[string]string{"num_layers": "2", "bidirectional": "true", "batch_first": "false"}},
	{"lstm_3layer_bf_ragged_fc", []string{"lstm", "--num-layers", "3", "--batch-first", "--ragged", "--fc", "3"}, nil},
	{"lstm_proj_bi_ragged_fc_hn", []string{"lstm", "--num-layers", "2", "--bidirectional", "--proj", "4", "--ragged", "--fc", "3", "--fc-input", "h_n"}, map[string]string{"batch_first": "false", "fc_input": "h_n"}},
	{"lstm_embedding_bf_ragged", []string{"lstm", "--embedding", "11", "--batch-first", "--ragged", "--bidirectional", "--fc", "2", "--fc-input", "mean"}, map[string]string{"fc_input": "mean"}},
	{"lstm_nobias_bf", []string{"lstm", "--no-bias", "--batch-first", "--num-layers", "2"}, nil},
	{"gru_1layer_bf", []string{"gru", "--batch-first"}, nil},
	{"gru_2layer_bi_ragged_tn", []string{"gru", "--num-layers", "2", "--bidirectional", "--ragged"}, map[string]string{"batch_first": "false"}},
	{"gru_3layer_bi_ragged_bf_fc_bare", []string{"gru", "--num-layers", "3", "--bidirectional", "--ragged", "--batch-first", "--bare"}, nil},
	{"gru_embedding_tn_ragged_fc", []string{"gru", "--embedding", "9", "--ragged", "--fc", "4"}, map[string]string{"batch_first": "false"}},
	{"gru_nobias_tn_ragged", []string{"gru", "--no-bias", "--ragged", "--bidirectional"}, map[string]string{"batch_first": "false"}},
}

// TestParity runs each case's PyTorch module and ours on the same
// checkpoint, input and lengths and compares every tap.
func TestParity(t *testing.T) {
	testenv.Python(t)
	needORT(t)
	ctx := context.Background()
	var all [][]string
	for _, c := range parityCases {
		all = append(all, c.args)
	}
	fixtures := makeFixtures(t, all)
	for i, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			f := fixtures[i]
			arch := c.args[0]
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: arch, Options: c.opts, WeightsPath: filepath.Join(f.dir, "weights.pth"), Threads: 1})
			if err != nil {
				t.Fatalf("Load(%s, %v): %v", arch, c.opts, err)
			}
			defer m.Close()
			layers := f.names
			resp, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: layers, Input: f.input, Lengths: f.lengths.Int64})
			if err != nil {
				t.Fatalf("Extract(%v): %v", layers, err)
			}
			worst := compare(t, f, resp.Outputs)
			t.Logf("%s: lengths %v, %d taps (%s), worst diff/max(1,|torch|) %.3g", c.name, f.lengths.Int64, len(layers), strings.Join(layers, ","), worst)

			// Params are torch's named_parameters in order (the bare
			// layout's keys are taken under the module's name).
			ps, err := m.Params(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(f.params) {
				t.Fatalf("Params: %d; torch has %d", len(ps), len(f.params))
			}
			for i, p := range f.params {
				var name string
				var shape []int64
				json.Unmarshal(p[0], &name)
				json.Unmarshal(p[1], &shape)
				if ps[i].Name != name || !sdk.EqualShape(ps[i].Shape, shape) {
					t.Errorf("param %d = %s %v; torch %s %v", i, ps[i].Name, ps[i].Shape, name, shape)
				}
			}
			// Layers reports the shapes the taps have.
			ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: f.input.Shape})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				want, ok := f.outputs[l.Name]
				if !ok {
					continue
				}
				n := f.lengths.Shape[0]
				got := make([]int64, len(l.Shape))
				for i, d := range l.Shape {
					got[i] = d
					if d == -1 {
						got[i] = n
					}
				}
				if !sdk.EqualShape(got, want.Shape) {
					t.Errorf("Layers: %s shape %v; torch %v", l.Name, l.Shape, want.Shape)
				}
			}
		})
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
			d, _ := maxDiff(alone.Outputs[l].Float32, full.Outputs[l].Float32[:len(alone.Outputs[l].Float32)])
			if d > 1e-5 {
				t.Errorf("%s %s: sequence 0 alone differs from it in a padded batch by %g", arch, l, d)
			}
		}
		hn := full.Outputs["h_n"] // [4, 3, 5]: sequence 0 is [:, 0, :]
		for k := int64(0); k < 4; k++ {
			d, _ := maxDiff(alone.Outputs["h_n"].Float32[k*5:(k+1)*5], hn.Float32[(k*3)*5:(k*3+1)*5])
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

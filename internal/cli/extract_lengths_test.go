package cli

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestExtractLengths runs gozoo extract --lengths against the lstm plugin
// on PyTorch-made fixtures: sequence-major int64 token ids in one pass,
// and batch-first float sequences split into row batches with their
// lengths, with taps whose batch is not the first dimension (h_n).
func TestExtractLengths(t *testing.T) {
	testenv.Python(t)
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "lstm")
	script := filepath.Join("..", "..", "plugins", "lstm", "testdata", "make_parity.py")
	tests := []struct {
		name    string
		fixture []string
		args    []string
		layers  string
	}{
		{"tokens_tn", []string{"lstm", "--embedding", "11", "--num-layers", "2", "--bidirectional", "--ragged", "--fc", "3", "--steps", "7", "--batch", "20"},
			[]string{"--arch", "lstm", "--opt", "num_layers=2,bidirectional=true,batch_first=false"}, "h_n,c_n,lstm,lstm.l0,embedding,last,mean,fc"},
		{"gru_bf_split", []string{"gru", "--batch-first", "--ragged", "--bidirectional", "--batch", "19", "--steps", "6"},
			[]string{"--arch", "gru", "--opt", "bidirectional=true", "--batch-size", "4"}, "gru,last,mean"},
		{"gru_bf_h_n", []string{"gru", "--batch-first", "--ragged", "--num-layers", "2", "--batch", "9", "--steps", "5"},
			[]string{"--arch", "gru", "--batch-size", "4"}, "h_n,gru.l1,mean"},
	}
	cases := make([][]string, len(tests))
	for i, tc := range tests {
		cases[i] = tc.fixture
	}
	fixtures := sdktest.MakeFixtures(t, script, cases)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fixtures[i]
			input, lengths := filepath.Join(f.Dir, "input.npy"), filepath.Join(f.Dir, "lengths.npy")
			for j, p := range []string{input, lengths} {
				if err := npy.WriteFile(p, f.InputTensor(t, j)); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(f.Dir, "out.npz")
			args := append([]string{"--plugin-path", plugins, "extract", "--weights", f.Weights()}, tc.args...)
			args = append(args, "--lengths", lengths, "--layers", tc.layers, "--out", out, input)
			if _, stderr, err := execute(t, &Factory{}, args...); err != nil {
				t.Fatalf("extract: %v\n%s", err, stderr)
			}
			got, _, err := npy.ReadNPZ(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(tc.layers, ",") {
				g, w := got[l], f.Tensor(t, l)
				if g == nil || !sdk.EqualShape(g.Shape, w.Shape) {
					t.Errorf("%s: got %v; torch shape %v", l, g, w.Shape)
					continue
				}
				if diff, scale := sdktest.MaxDiff(g.Float32, w.Float32); diff > sdktest.ParityTolerance*math.Max(1, scale) {
					t.Errorf("%s: max |gozoo - torch| = %g", l, diff)
				}
			}
		})
	}
}

// TestExtractLengthsErrors checks bad --lengths files and values.
func TestExtractLengthsErrors(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "lstm")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.npy")
	if err := npy.WriteFile(in, sdk.Zeros(2, 4, 8)); err != nil {
		t.Fatal(err)
	}
	write := func(name string, x *sdk.Tensor) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, x); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		lengths string
		want    string
	}{
		{"float", write("f.npy", sdk.Zeros(2)), "want int64 [N]"},
		{"too long", write("long.npy", &sdk.Tensor{Shape: []int64{2}, Int64: []int64{4, 5}}), "longer than the input's 4 steps"},
		{"zero", write("zero.npy", &sdk.Tensor{Shape: []int64{2}, Int64: []int64{0, 4}}), "at least one step"},
		{"count", write("count.npy", &sdk.Tensor{Shape: []int64{3}, Int64: []int64{1, 2, 3}}), "3 lengths for 2 rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--arch", "lstm", "--lengths", tc.lengths,
				"--layers", "last", "--out", filepath.Join(dir, "o.npz"), in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("extract --lengths %s = %v; want an error with %q", tc.name, err, tc.want)
			}
		})
	}
}

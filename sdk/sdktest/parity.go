package sdktest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// Fixture is a parity fixture a family's make_parity.py wrote with the
// gozoo_parity Python module (in this package's folder): the weights, the
// input, every requested layer's torch output (and, for deep nets, the
// same layers from a float64 run), and torch's module and parameter
// lists.
type Fixture struct {
	Dir     string
	Input   []int64            `json:"input"`
	Outputs map[string][]int64 `json:"outputs"`
	Float64 bool               `json:"float64"`
	Modules [][2]string        `json:"modules"`
	// Uncalled lists the modules a forward never calls (shape-only
	// fixtures of gozoo_parity.write_meta).
	Uncalled []string       `json:"uncalled"`
	Inputs   []fixtureInput `json:"-"`
	Params   []sdk.Param    `json:"-"`

	RawInputs [][2]json.RawMessage `json:"inputs"`
	RawParams [][2]json.RawMessage `json:"params"`
}

type fixtureInput struct {
	Shape []int64
	DType sdk.DType
}

// Weights returns the path of the fixture's state_dict.
func (f *Fixture) Weights() string { return filepath.Join(f.Dir, "weights.pth") }

// MakeFixture runs a family's fixture script as `script OUTDIR args...`
// with gozoo_parity importable, and reads what it wrote. It skips (or
// fails under GOZOO_REQUIRE_ALL=1) when PyTorch is missing.
func MakeFixture(t testing.TB, script string, args ...string) *Fixture {
	t.Helper()
	dir := t.TempDir()
	runScript(t, script, append([]string{dir}, args...)...)
	return readFixture(t, dir)
}

// MakeFixtures makes one fixture per argument list in a single run of
// the script, `script --cases FILE` with a line `OUTDIR args...` per
// fixture, sparing a PyTorch start per fixture; the script hands its
// main to gozoo_parity.main, which reads the file. It returns the
// fixtures in order.
func MakeFixtures(t testing.TB, script string, cases [][]string) []*Fixture {
	t.Helper()
	root := t.TempDir()
	var lines []string
	for i, args := range cases {
		words := []string{shellQuote(filepath.Join(root, fmt.Sprint(i)))}
		for _, a := range args {
			words = append(words, shellQuote(a))
		}
		lines = append(lines, strings.Join(words, " "))
	}
	list := filepath.Join(root, "cases.txt")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runScript(t, script, "--cases", list)
	out := make([]*Fixture, len(cases))
	for i := range cases {
		out[i] = readFixture(t, filepath.Join(root, fmt.Sprint(i)))
	}
	return out
}

// shellQuote quotes s for Python's shlex.split.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }

// runScript runs a fixture script with gozoo_parity importable, in the
// script's folder, failing t with its stderr.
func runScript(t testing.TB, script string, args ...string) {
	t.Helper()
	if err := runFixtureScript(testenv.Python(t), script, args); err != nil {
		t.Fatal(err)
	}
}

// runFixtureScript runs `script args...` under py with gozoo_parity
// importable; its error holds the script's stderr.
func runFixtureScript(py, script string, args []string) error {
	abs, err := filepath.Abs(script)
	if err != nil {
		return err
	}
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, append([]string{abs}, args...)...)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Dir(self)+string(os.PathListSeparator)+os.Getenv("PYTHONPATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(script), strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

// readFixture reads the fixture a script wrote into dir, failing t.
func readFixture(t testing.TB, dir string) *Fixture {
	t.Helper()
	f, err := ReadFixture(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ReadFixture reads the fixture a script wrote into dir (meta.json and
// the .bin files beside it).
func ReadFixture(dir string) (*Fixture, error) {
	meta := filepath.Join(dir, "meta.json")
	f := &Fixture{Dir: dir}
	b, err := os.ReadFile(meta)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%s: %w", meta, err)
	}
	for _, p := range f.RawParams {
		var q sdk.Param
		if json.Unmarshal(p[0], &q.Name) != nil || json.Unmarshal(p[1], &q.Shape) != nil {
			return nil, fmt.Errorf("%s: bad param %s", meta, p[0])
		}
		f.Params = append(f.Params, q)
	}
	for _, in := range f.RawInputs {
		var x fixtureInput
		var dt string
		if json.Unmarshal(in[0], &x.Shape) != nil || json.Unmarshal(in[1], &dt) != nil {
			return nil, fmt.Errorf("%s: bad input %s", meta, in[0])
		}
		x.DType = sdk.Float32
		if dt == "int64" {
			x.DType = sdk.Int64
		}
		f.Inputs = append(f.Inputs, x)
	}
	if len(f.Inputs) == 0 {
		f.Inputs = []fixtureInput{{Shape: f.Input, DType: sdk.Float32}}
	}
	return f, nil
}

// InputTensor returns the fixture's i-th input (0 is the model's input).
func (f *Fixture) InputTensor(t testing.TB, i int) *sdk.Tensor {
	t.Helper()
	name := "input"
	if i > 0 {
		name += fmt.Sprint(i)
	}
	in := f.Inputs[i]
	b := f.read(t, name)
	if in.DType == sdk.Int64 {
		data := make([]int64, len(b)/8)
		for j := range data {
			data[j] = int64(binary.LittleEndian.Uint64(b[8*j:]))
		}
		x, err := sdk.NewInt64Tensor(in.Shape, data)
		if err != nil {
			t.Fatalf("%s.bin: %v", name, err)
		}
		return x
	}
	return f.float(t, name, in.Shape)
}

// Tensor returns a layer's torch output (float32 run).
func (f *Fixture) Tensor(t testing.TB, layer string) *sdk.Tensor {
	t.Helper()
	return f.float(t, layer, f.Outputs[layer])
}

func (f *Fixture) read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.Dir, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *Fixture) float(t testing.TB, name string, shape []int64) *sdk.Tensor {
	t.Helper()
	b := f.read(t, name)
	data := make([]float32, len(b)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	x, err := sdk.NewTensor(shape, data)
	if err != nil {
		t.Fatalf("%s.bin: %v", name, err)
	}
	return x
}

// MaxDiff returns max |got - want| and max |want| over two equally long
// slices.
func MaxDiff(got, want []float32) (diff, scale float64) {
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// ParityTolerance is the scaled tolerance of Check: a layer passes when
// max |ours - torch| <= ParityTolerance * max(1, max |torch|).
const ParityTolerance = 1e-4

// Check compares layers extracted from m with the fixture's torch
// outputs, in one forward pass over the fixture's input. A request hook,
// when given, fills in further inputs (lengths, named inputs). Every
// layer must have torch's shape and lie within ParityTolerance, scaled;
// with a float64 run in the fixture, ours must also be no further from
// float64 than twice PyTorch float32 is (plus float32's own rounding of
// the largest value), since two float32 runs round in different orders.
// It returns the extracted outputs.
func (f *Fixture) Check(t testing.TB, m sdk.Model, layers []string, hook ...func(*sdk.ExtractRequest)) map[string]*sdk.Tensor {
	t.Helper()
	req := &sdk.ExtractRequest{Layers: layers, Input: f.InputTensor(t, 0)}
	for _, h := range hook {
		h(req)
	}
	resp, err := m.Extract(context.Background(), req)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	worst := 0.0
	for _, l := range layers {
		want := f.Tensor(t, l)
		got := resp.Outputs[l]
		if got == nil {
			t.Errorf("Extract did not return layer %s", l)
			continue
		}
		if !sdk.EqualShape(got.Shape, want.Shape) {
			t.Errorf("layer %s: shape %v; torch %v", l, got.Shape, want.Shape)
			continue
		}
		diff, scale := MaxDiff(got.Float32, want.Float32)
		worst = math.Max(worst, diff/math.Max(1, scale))
		if tol := ParityTolerance * math.Max(1, scale); diff > tol || math.IsNaN(diff) {
			t.Errorf("layer %s: max |ours - torch| = %.3g > %.3g (max |torch| = %.3g)", l, diff, tol, scale)
		}
		if !f.Float64 {
			if testing.Verbose() {
				t.Logf("  %-32s max abs diff %.3g, max |torch| %.3g", l, diff, scale)
			}
			continue
		}
		ref := f.float(t, l+".f64", want.Shape)
		ours, _ := MaxDiff(got.Float32, ref.Float32)
		theirs, _ := MaxDiff(want.Float32, ref.Float32)
		if limit := 2*theirs + 0x1p-23*scale; ours > limit {
			t.Errorf("layer %s: max |ours - torch float64| = %.3g > 2 * %.3g (torch float32's) + rounding", l, ours, theirs)
		}
		if testing.Verbose() {
			t.Logf("  %-32s max abs diff %.3g, max |torch| %.3g; vs float64: ours %.3g, torch float32 %.3g", l, diff, scale, ours, theirs)
		}
	}
	t.Logf("%v: worst diff/max(1,|torch|) %.3g over %d layers", f.Input, worst, len(layers))
	return resp.Outputs
}

// CheckCoverage compares m's Layers with torch's named_modules (names and
// classes) and its Params with named_parameters, and checks the shapes
// Layers reports for the fixture's input against the hooked outputs.
// skip lists names exempt from the comparison: torch modules that are
// deliberately not layers, and layers that are not torch modules (a pooled
// token, say).
func (f *Fixture) CheckCoverage(t testing.TB, m sdk.Model, skip ...string) {
	t.Helper()
	ctx := context.Background()
	ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: f.Input})
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	ours := map[string]sdk.Layer{}
	for _, l := range ls {
		ours[l.Name] = l
	}
	theirs := map[string]bool{}
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, mod := range f.Modules {
		theirs[mod[0]] = true
		if skipped[mod[0]] {
			continue
		}
		l, ok := ours[mod[0]]
		if !ok {
			t.Errorf("torch module %s (%s) is not a layer", mod[0], mod[1])
			continue
		}
		if l.Kind != mod[1] {
			t.Errorf("layer %s kind = %s; torch %s", mod[0], l.Kind, mod[1])
		}
	}
	for _, l := range ls {
		if !theirs[l.Name] && !skipped[l.Name] {
			t.Errorf("layer %s (%s) is not a torch module", l.Name, l.Kind)
		}
		// Free dimensions (the batch) are -1 in Layers.
		if want, ok := f.Outputs[l.Name]; ok {
			fits := len(l.Shape) == len(want)
			for i := 0; fits && i < len(want); i++ {
				fits = l.Shape[i] == want[i] || l.Shape[i] == -1
			}
			if !fits {
				t.Errorf("layer %s shape = %v; torch %v", l.Name, l.Shape, want)
			}
		}
	}
	ps, err := m.Params(ctx)
	if err != nil {
		t.Fatalf("Params: %v", err)
	}
	if len(ps) != len(f.Params) {
		t.Errorf("Params: %d; torch has %d named_parameters", len(ps), len(f.Params))
	}
	for i := range min(len(ps), len(f.Params)) {
		if ps[i].Name != f.Params[i].Name || !sdk.EqualShape(ps[i].Shape, f.Params[i].Shape) {
			t.Errorf("param %d = %s %v; torch %s %v", i, ps[i].Name, ps[i].Shape, f.Params[i].Name, f.Params[i].Shape)
		}
	}
}

// WriteCheckpoint writes tensors as a safetensors state_dict in a
// temporary folder and returns its path: a checkpoint whose shapes a
// test chooses (a family's seeded init, edited), made without PyTorch.
func WriteCheckpoint(t testing.TB, tensors map[string]*sdk.Tensor) string {
	t.Helper()
	sd := &bridge.StateDict{Tensors: tensors, Keys: slices.Sorted(maps.Keys(tensors))}
	var buf bytes.Buffer
	if err := bridge.WriteSafetensors(&buf, sd); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "weights.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

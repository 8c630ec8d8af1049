package backbone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// tinyNet is conv -> relu -> pool -> fc, with a global pool (the same
// graph at every size) and an adaptive 2x2 pool (a graph per size).
type tinyNet struct{ width, classes int64 }

func (n *tinyNet) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}
func (n *tinyNet) DefaultInput() []int64 { return []int64{-1, 3, 16, 16} }
func (n *tinyNet) DefaultLayer() string  { return "fc" }
func (n *tinyNet) Build(in []int64) *nn.Builder {
	b := nn.NewBuilder("Tiny")
	x := b.Input("input", in, 0, 2, 3)
	x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: n.width, Kernel: nn.P(3), Padding: nn.P(1)})
	x = b.ReLU("relu", x)
	b.AdaptiveAvgPool2d("pool2", x, nn.P(2))
	g := b.AdaptiveAvgPool2d("pool", x, nn.P(1))
	b.Linear("fc", b.Flatten("", g), n.width, n.classes, true)
	return b
}

var tinyFamily = Family{Name: "tiny", Version: "0.0.1", Archs: []Arch{{
	Name:  "tiny",
	Doc:   "a test net",
	Input: sdk.InputSpec{Shape: []int64{-1, 3, 16, 16}, DType: sdk.Float32},
	Options: []Option{
		{Name: "width", Kind: Int, Min: 1, Max: 64, Default: "4"},
		{Name: "num_classes", Kind: Int, Min: 1, Default: "3"},
		{Name: "mode", Kind: String, Choices: []string{"fast", "exact"}, Default: "exact"},
		{Name: "flag", Kind: Bool, Default: "false"},
	},
	Infer: func(sd map[string]*sdk.Tensor) (map[string]string, error) {
		out := map[string]string{}
		if w := sd["fc.weight"]; w != nil && len(w.Shape) == 2 {
			out["num_classes"] = fmt.Sprint(w.Shape[0])
			out["width"] = fmt.Sprint(w.Shape[1])
		}
		return out, nil
	},
	New: func(o Options) (Net, error) {
		return &tinyNet{width: o.Int("width"), classes: o.Int("num_classes")}, nil
	},
}}}

// saveTiny writes a seeded tiny checkpoint as safetensors.
func saveTiny(t *testing.T, path string, width, classes int64, seed int64) {
	t.Helper()
	b := (&tinyNet{width: width, classes: classes}).Build([]int64{-1, 3, 16, 16})
	w := nn.RandomWeights(b.Specs(), seed)
	sd := &bridge.StateDict{Tensors: w.StateDict()}
	for k := range sd.Tensors {
		sd.Keys = append(sd.Keys, k)
	}
	var buf bytes.Buffer
	if err := bridge.WriteSafetensors(&buf, sd); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	a := &tinyFamily.Archs[0]
	o, err := NewOptions(a, map[string]string{"flag": "yes", "width": " 08 "})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Bool("flag") || o.Int("width") != 8 || !o.Given("width") || o.Given("num_classes") || o.String("mode") != "exact" {
		t.Errorf("options = %v", o.Values())
	}
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"widht": "8"}, "did you mean width?"},
		{map[string]string{"width": "65"}, "an integer from 1 to 64"},
		{map[string]string{"width": "x"}, "an integer from 1 to 64"},
		{map[string]string{"mode": "fsat"}, "did you mean fast?"},
		{map[string]string{"flag": "maybe"}, "true or false"},
	} {
		_, err := NewOptions(a, tc.opts)
		if !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewOptions(%v) = %v; want ErrBadOption with %q", tc.opts, err, tc.want)
		}
	}
}

// TestCheckpointOptions checks that a checkpoint's shapes set the options
// they determine, and that a contradicting option names both values and
// never the options the user did not give.
func TestCheckpointOptions(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	saveTiny(t, path, 6, 5, 1)
	bb := New(tinyFamily)
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny", WeightsPath: path})
	if err != nil {
		t.Fatalf("Load without options = %v; want the checkpoint's width 6 and 5 classes", err)
	}
	ls, _ := m.Layers(ctx, nil)
	if got := ls[len(ls)-1].Shape; !sdk.EqualShape(got, []int64{-1, 5}) {
		t.Errorf("fc shape = %v; want [-1 5]", got)
	}
	m.Close()
	_, err = bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny", WeightsPath: path, Options: map[string]string{"num_classes": "7"}})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "num_classes=7 but the checkpoint has 5") || strings.Contains(err.Error(), "width") {
		t.Errorf("Load(num_classes=7) = %v; want ErrWeights naming num_classes 7 and 5 only", err)
	}
	if _, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "tinny"}); !errors.Is(err, sdk.ErrUnknownArch) || !strings.Contains(err.Error(), "did you mean tiny?") {
		t.Errorf("Load(tinny) = %v; want ErrUnknownArch with a suggestion", err)
	}
}

// sessions returns the keys of m's cached sessions.
func sessions(m sdk.Model) int {
	return m.(*model).sessions.Len()
}

func input(n, h, w int64) *sdk.Tensor {
	data := make([]float32, n*3*h*w)
	for i := range data {
		data[i] = float32(i%17) / 17
	}
	x, _ := sdk.NewTensor([]int64{n, 3, h, w}, data)
	return x
}

// TestSessionSharing checks that input sizes whose graphs are equal share
// a session and sizes whose graphs differ do not, and that results agree
// with a model that saw only one size.
func TestSessionSharing(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	bb := New(tinyFamily)
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 3, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, hw := range [][2]int64{{16, 16}, {20, 24}, {9, 7}} {
		if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(2, hw[0], hw[1]), Layers: []string{"fc"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := sessions(m); n != 1 {
		t.Errorf("fc at three sizes made %d sessions; want 1 (the global pool's graph does not depend on the size)", n)
	}
	var outs []*sdk.Tensor
	for _, hw := range [][2]int64{{16, 16}, {20, 24}} {
		r, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, hw[0], hw[1]), Layers: []string{"pool2"}})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, r.Outputs["pool2"])
	}
	if n := sessions(m); n != 3 {
		t.Errorf("pool2 at two sizes made %d sessions in all; want 3 (an adaptive 2x2 pool's windows depend on the size)", n)
	}
	// A fresh model that sees only 20x24 must agree.
	m2, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 3, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	r, err := m2.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 20, 24), Layers: []string{"pool2"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range r.Outputs["pool2"].Float32 {
		if outs[1].Float32[i] != v {
			t.Fatalf("pool2 at 20x24 after 16x16 differs from a fresh model at %d: %v vs %v", i, outs[1].Float32[i], v)
		}
	}
}

// TestCheckpointChanged checks that a model refuses to make a session
// from a checkpoint that changed after Load rather than serve other
// weights.
func TestCheckpointChanged(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	saveTiny(t, path, 4, 3, 1)
	m, err := New(tinyFamily).Load(ctx, &sdk.LoadRequest{Arch: "tiny", WeightsPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 16, 16)}); err != nil {
		t.Fatal(err)
	}
	saveTiny(t, path, 4, 3, 2)
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 16, 16)}); err != nil {
		t.Errorf("Extract from the cached session = %v; want it served", err)
	}
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 16, 16), Layers: []string{"conv"}})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "changed since the model was loaded") {
		t.Errorf("Extract needing a new session after the checkpoint changed = %v; want ErrWeights", err)
	}
}

func TestExtractErrors(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New(tinyFamily).Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	i64, _ := sdk.NewInt64Tensor([]int64{1, 3, 4, 4}, make([]int64, 48))
	for _, tc := range []struct {
		name string
		req  *sdk.ExtractRequest
		want error
	}{
		{"nil input", &sdk.ExtractRequest{}, sdk.ErrBadInput},
		{"int64", &sdk.ExtractRequest{Input: i64}, sdk.ErrBadInput},
		{"rank", &sdk.ExtractRequest{Input: func() *sdk.Tensor { x, _ := sdk.NewTensor([]int64{3, 4}, make([]float32, 12)); return x }()}, sdk.ErrBadInput},
		{"channels", &sdk.ExtractRequest{Input: func() *sdk.Tensor { x, _ := sdk.NewTensor([]int64{1, 2, 4, 4}, make([]float32, 32)); return x }()}, sdk.ErrBadInput},
		{"layer", &sdk.ExtractRequest{Input: input(1, 8, 8), Layers: []string{"fcc"}}, sdk.ErrUnknownLayer},
		{"lengths", &sdk.ExtractRequest{Input: input(1, 8, 8), Lengths: []int64{3}}, sdk.ErrBadInput},
	} {
		if _, err := m.Extract(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: Extract = %v; want %v", tc.name, err, tc.want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 8, 8)}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Extract after Close = %v; want ErrClosed", err)
	}
	if _, err := m.Layers(ctx, nil); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Layers after Close = %v; want ErrClosed", err)
	}
}

// TestConcurrentEviction extracts many layer sets at once, more than the
// cache holds, so sessions are evicted while others run them; run with
// -race.
func TestConcurrentEviction(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New(tinyFamily).Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	sets := [][]string{{"fc"}, {"conv"}, {"relu"}, {"pool"}, {"pool2"}, {"conv", "fc"}, {"relu", "pool"}}
	ref := map[int]*sdk.ExtractResponse{}
	for i, s := range sets {
		r, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(2, 12, 12), Layers: s})
		if err != nil {
			t.Fatal(err)
		}
		ref[i] = r
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 6 {
				i := (g + k) % len(sets)
				r, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(2, 12, 12), Layers: sets[i]})
				if err != nil {
					errs <- err
					return
				}
				for _, l := range sets[i] {
					if !slicesEqual(r.Outputs[l].Float32, ref[i].Outputs[l].Float32) {
						errs <- fmt.Errorf("layer %s differs under concurrency", l)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := sessions(m); n > maxSessions {
		t.Errorf("%d sessions cached; want at most %d", n, maxSessions)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDescribeInput(t *testing.T) {
	for _, tc := range []struct {
		in   sdk.InputSpec
		want string
	}{
		{sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}, "[N, 3, H, W] float32"},
		{sdk.InputSpec{Shape: []int64{-1, 1, -1, -1, -1}, DType: sdk.Float32}, "[N, 1, D, H, W] float32"},
		{sdk.InputSpec{Shape: []int64{-1, -1}, DType: sdk.Int64}, "[N, *] int64"},
		{sdk.InputSpec{Shape: []int64{-1, -1, 8}, DType: sdk.Float32, BatchAxis: 1}, "[*, N, 8] float32"},
		{sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}, "[N, 3, 224, 224] float32"},
	} {
		if got := describeInput(tc.in); got != tc.want {
			t.Errorf("describeInput(%v) = %q; want %q", tc.in.Shape, got, tc.want)
		}
	}
}

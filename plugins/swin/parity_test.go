package swin

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

// parityLayers lists, for an arch with the given stage depths, the patch
// embedding and its parts, every module of the first block but attn.qkv
// and attn.proj (torchvision's shifted_window_attention reads their
// weights with F.linear and never calls them, so no hook sees them), the shifted
// second block's attention, the last block of every stage, every stage
// and patch merging layer, and the head.
func parityLayers(depths [4]int) []string {
	out := []string{"features.0", "features.0.0", "features.0.1", "features.0.2"}
	first := "features.1.0"
	for _, m := range []string{"norm1", "attn", "norm2", "mlp.0", "mlp.1", "mlp.2", "mlp.3", "mlp.4", "mlp", "stochastic_depth"} {
		out = append(out, first+"."+m)
	}
	out = append(out, first, "features.1.1.attn")
	for i, d := range depths {
		stage := "features." + strconv.Itoa(2*i+1)
		last := stage + "." + strconv.Itoa(d-1)
		out = append(out, last+".attn", last, stage)
		if i < 3 {
			merge := "features." + strconv.Itoa(2*i+2)
			out = append(out, merge+".norm", merge+".reduction", merge)
		}
	}
	return append(out, "features", "norm", "permute", "avgpool", "flatten", "head")
}

// TestParity compares swin_t (at 224x224 and at 96x160, where every
// stage pads to whole windows, on one set of weights) and swin_s (at
// 112x144, where the third stage's height is one window, so its blocks
// shift along the width only; not with -short) with torchvision on
// random weights with attention logits of O(1) and realistic LayerNorms:
// every listed layer within 1e-4 scaled and no further from a float64
// run than torch float32, and the layers and parameters against
// named_modules and named_parameters. The fixtures come from one
// PyTorch run.
func TestParity(t *testing.T) {
	needORT(t)
	tiny, small := archs[0], archs[1]
	cases := [][]string{
		{"swin_t", "--height", "224", "--width", "224", "--float64", "--layers", strings.Join(parityLayers(tiny.depths), ",")},
		{"swin_t", "--height", "96", "--width", "160", "--float64", "--no-weights", "--layers", strings.Join(parityLayers(tiny.depths), ",")},
	}
	if !testing.Short() {
		cases = append(cases, []string{"swin_s", "--height", "112", "--width", "144", "--float64", "--seed", "1", "--num-classes", "10",
			"--layers", strings.Join(parityLayers(small.depths), ",")})
	}
	fs := sdktest.MakeFixtures(t, "testdata/make_parity.py", cases)
	m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "swin_t", WeightsPath: fs[0].Weights(), Threads: 2})
	if err != nil {
		t.Fatalf("Load(swin_t): %v", err)
	}
	defer m.Close()
	t.Run("swin_t/224x224", func(t *testing.T) {
		fs[0].Check(t, m, parityLayers(tiny.depths))
		fs[0].CheckCoverage(t, m)
	})
	t.Run("swin_t/96x160", func(t *testing.T) {
		fs[1].Check(t, m, parityLayers(tiny.depths))
		fs[1].CheckCoverage(t, m)
	})
	if len(fs) < 3 {
		return
	}
	t.Run("swin_s/112x144", func(t *testing.T) {
		m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "swin_s", WeightsPath: fs[2].Weights(), Threads: 2})
		if err != nil {
			t.Fatalf("Load(swin_s): %v", err)
		}
		defer m.Close()
		want := sdk.LoadedOption{Name: "num_classes", Value: "10", Source: "checkpoint"}
		if opts := m.(sdk.OptionsDescriber).LoadedOptions(); !slices.Contains(opts, want) {
			t.Errorf("LoadedOptions = %v; want %v", opts, want)
		}
		fs[2].Check(t, m, parityLayers(small.depths))
		fs[2].CheckCoverage(t, m)
	})
}

// TestLayersMatchTorchvision compares every arch's layers (names and
// classes), parameters (names, shapes, order) and state_dict entries
// with torchvision's, without weights: torch builds each model with its
// init skipped, Go builds the graph without a session.
func TestLayersMatchTorchvision(t *testing.T) {
	var names []string
	for _, a := range archs {
		names = append(names, a.name)
	}
	f := sdktest.MakeFixture(t, "testdata/make_parity.py", "--meta", strings.Join(names, ","))
	raw, err := os.ReadFile(filepath.Join(f.Dir, "archs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var torch map[string]struct {
		Modules [][2]string          `json:"modules"`
		Params  [][2]json.RawMessage `json:"params"`
		Buffers [][2]json.RawMessage `json:"buffers"`
	}
	if err := json.Unmarshal(raw, &torch); err != nil {
		t.Fatal(err)
	}
	for _, a := range archs {
		t.Run(a.name, func(t *testing.T) {
			tv := torch[a.name]
			b := a.build(1000, []int64{-1, 3, 224, 224})
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
			if len(kinds) > 0 {
				t.Errorf("layers that are no torch module: %v", kinds)
			}
			var params, buffers []sdk.Param
			for _, s := range b.Specs() {
				p := sdk.Param{Name: s.Name, Shape: s.Shape}
				if s.Buffer {
					buffers = append(buffers, p)
				} else {
					params = append(params, p)
				}
			}
			compareEntries(t, "param", params, tv.Params)
			compareEntries(t, "buffer", buffers, tv.Buffers)
		})
	}
}

// compareEntries compares names and shapes, in order, with torch's.
func compareEntries(t *testing.T, what string, ours []sdk.Param, torch [][2]json.RawMessage) {
	t.Helper()
	if len(ours) != len(torch) {
		t.Errorf("%d %ss; torch has %d", len(ours), what, len(torch))
	}
	for i := range min(len(ours), len(torch)) {
		var name string
		var shape []int64
		if json.Unmarshal(torch[i][0], &name) != nil || json.Unmarshal(torch[i][1], &shape) != nil {
			t.Fatalf("archs.json: bad %s %s", what, torch[i][0])
		}
		if ours[i].Name != name || !slices.Equal(ours[i].Shape, shape) {
			t.Errorf("%s %d = %s %v; torch %s %v", what, i, ours[i].Name, ours[i].Shape, name, shape)
		}
	}
}

package onnx_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestBridgeExportInputs exports two user modules through the torch
// plugin with gozoo bridge export: an nn.Embedding+LSTM over int64 token
// ids (--input-dtype int64), and a module of two inputs, token ids and
// float features (--input, twice). Each export's own parity check runs;
// then the onnx plugin, in its own process, runs the .onnx on the oracle's
// inputs and every layer matches PyTorch's forward hooks.
func TestBridgeExportInputs(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dirs := plugins(t)
	tmp := t.TempDir()
	testenv.RunPython(t, "testdata/make_textnets.py", tmp)
	h, err := host.New(host.WithPluginPath(dirs...))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	bb, err := h.Backbone(ctx, "onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		layers []string
		inputs []string // the graph's inputs, as gozoo layers lists them
		report []string // the inputs, as the parity report names them
	}{
		{"embed_lstm", []string{"--input-shape", "2,12", "--input-dtype", "int64"}, []string{"emb", "lstm", "fc"},
			[]string{"input input int64[N, 12]"}, []string{"input int64[2, 12]"}},
		{"fused", []string{"--input", "tokens:int64:2,12", "--input", "feats:float32:2,4"}, []string{"emb", "dense", "head"},
			[]string{"input tokens int64[N, 12]", "input feats float32[N, 4]"}, []string{"tokens int64[2, 12]", "feats float32[2, 4]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(tmp, tc.name+".onnx")
			args := append([]string{"bridge", "export", "--module", "textnets:" + tc.name, "--module-path", "testdata/textnets",
				"--checkpoint", filepath.Join(tmp, tc.name+".pth"), "--int-range", "50", "--layers", strings.Join(tc.layers, ","), "--out", out}, tc.args...)
			log, err := gozoo(t, dirs, args...)
			if err != nil {
				t.Fatalf("gozoo bridge export: %v\n%s", err, log)
			}
			rep := readReport(t, filepath.Join(tmp, tc.name+".parity.json"))
			if !rep.Pass || len(rep.Layers) != len(tc.layers) {
				t.Errorf("parity report pass=%v over %d layers; want a pass over %v", rep.Pass, len(rep.Layers), tc.layers)
			}
			if got := strings.Join(rep.Inputs, ", "); got != strings.Join(tc.report, ", ") {
				t.Errorf("parity report inputs %q; want %q", got, tc.report)
			}
			if tc.name == "embed_lstm" {
				// Token ids past the embedding's 50 rows: the error names
				// the inputs seen and the flag that fixes it.
				bad := append(append([]string{}, args...), "--int-range", "60", "--out", filepath.Join(tmp, "bad.onnx"))
				if log, err := gozoo(t, dirs, bad...); err == nil || !strings.Contains(err.Error(), "int64[2, 12]") || !strings.Contains(err.Error(), "lower --int-range") {
					t.Errorf("bridge export --int-range 60 = %v; want an error naming the inputs and --int-range\n%s", err, log)
				}
			}
			log, err = gozoo(t, dirs, "layers", "--onnx", out)
			if err != nil {
				t.Fatalf("gozoo layers --onnx: %v\n%s", err, log)
			}
			for _, w := range tc.inputs {
				if !strings.Contains(log, w) {
					t.Errorf("gozoo layers --onnx output lacks %q:\n%s", w, log)
				}
			}

			io, _, err := npy.ReadNPZ(filepath.Join(tmp, tc.name+"_io.npz"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "onnx", WeightsPath: out})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			req := &sdk.ExtractRequest{Layers: append([]string{"output"}, tc.layers...), Input: io["tokens"]}
			if len(tc.inputs) > 1 {
				req.Inputs = map[string]*sdk.Tensor{"feats": io["feats"]}
			}
			got, err := m.Extract(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range req.Layers {
				g, w := got.Outputs[l], io[l]
				if g == nil || !sdk.EqualShape(g.Shape, w.Shape) {
					t.Errorf("Extract(%q) = %v; want shape %v", l, g, w.Shape)
					continue
				}
				var diff, scale float64 = 0, 1
				for i := range w.Float32 {
					diff = math.Max(diff, math.Abs(float64(g.Float32[i]-w.Float32[i])))
					scale = math.Max(scale, math.Abs(float64(w.Float32[i])))
				}
				t.Logf("%-6s onnx plugin vs PyTorch hook: max abs diff %.3g (scale %.3g)", l, diff, scale)
				if diff > 1e-5*scale {
					t.Errorf("%s differs from PyTorch's forward hook by %g; want <= %g", l, diff, 1e-5*scale)
				}
			}
			if len(tc.inputs) > 1 {
				// Without its second input, or with it of the wrong dtype,
				// the model refuses, naming what it takes and what it got.
				_, err := m.Extract(ctx, &sdk.ExtractRequest{Input: io["tokens"]})
				if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), `input "feats" is missing`) || !strings.Contains(err.Error(), "feats float32[N, 4]") {
					t.Errorf("Extract without feats = %v; want ErrBadInput naming the missing input", err)
				}
				bad := &sdk.Tensor{Shape: []int64{3, 4}, Int64: make([]int64, 12)}
				_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: io["tokens"], Inputs: map[string]*sdk.Tensor{"feats": bad}})
				if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), `input "feats" (int64) has shape [3, 4]`) {
					t.Errorf("Extract with int64 feats = %v; want ErrBadInput naming dtype and shape", err)
				}
			}
		})
	}
}

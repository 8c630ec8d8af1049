package mlp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/python"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

var (
	oracleOnce sync.Once
	oracleDir  string
	oracleErr  error
)

// oracle runs testdata/make_parity.py once for the package and returns
// the folder holding its mlp.pth and parity.json.
func oracle(t *testing.T) string {
	t.Helper()
	py := testenv.Python(t)
	oracleOnce.Do(func() {
		d, err := os.MkdirTemp("", "mlp-oracle-")
		if err != nil {
			oracleErr = err
			return
		}
		testenv.AtCleanup(func() { os.RemoveAll(d) })
		if out, err := exec.Command(py, "testdata/make_parity.py", d).CombinedOutput(); err != nil {
			oracleErr = fmt.Errorf("make_parity.py: %v\n%s", err, out)
			return
		}
		oracleDir = d
	})
	if oracleErr != nil {
		t.Fatal(oracleErr)
	}
	return oracleDir
}

// start installs the plugin in a temporary folder as make build lays out
// bin/plugins (its manifest and mlp.py beside gozoo_plugin), starts it
// through the host and returns the host client and its Backbone.
func start(t *testing.T) (*host.Client, sdk.Backbone) {
	t.Helper()
	dir := t.TempDir()
	if _, err := python.Install(dir, "gozoo-backbone-mlp.plugin", testenv.Python(t)); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	bb, err := c.Backbone(context.Background(), "mlp")
	if err != nil {
		t.Fatalf("start the mlp plugin: %v", err)
	}
	return c, bb
}

// TestConformance runs sdktest's suite against the plugin process.
func TestConformance(t *testing.T) {
	_, bb := start(t)
	sdktest.Run(t, bb, sdktest.WithLayers("fc1", "act2", "head"))
}

// TestChannel: only the host that started the plugin can talk to it.
func TestChannel(t *testing.T) {
	c, _ := start(t)
	sdktest.CheckChannel(t, c, "mlp")
}

// TestParity loads a PyTorch MLP's .pth (which the host converts to
// safetensors for the plugin) and compares every layer's output with
// PyTorch's on the same input.
func TestParity(t *testing.T) {
	_, bb := start(t)
	ctx := context.Background()
	dir := oracle(t)
	var ref struct {
		Input   []float32
		Outputs map[string]struct {
			Shape []int64
			Data  []float32
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "parity.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	opts := map[string]string{"hidden": "48", "classes": "7"}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "mlp", Options: opts, WeightsPath: filepath.Join(dir, "mlp.pth")})
	if err != nil {
		t.Fatalf("Load(mlp.pth) = %v", err)
	}
	defer m.Close()
	names := []string{"fc1", "act1", "fc2", "act2", "head"}
	resp, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: names, Input: &sdk.Tensor{Shape: []int64{5, 64}, Float32: ref.Input}})
	if err != nil {
		t.Fatalf("Extract(%v) = %v", names, err)
	}
	for _, n := range names {
		got, want := resp.Outputs[n], ref.Outputs[n]
		if got == nil || !slices.Equal(got.Shape, want.Shape) {
			t.Fatalf("Extract(%q) = %v; want shape %v", n, got, want.Shape)
		}
		var diff, scale float64 = 0, 1
		for i, w := range want.Data {
			diff = math.Max(diff, math.Abs(float64(got.Float32[i]-w)))
			scale = math.Max(scale, math.Abs(float64(w)))
		}
		if diff/scale > 1e-4 {
			t.Errorf("Extract(%q) differs from PyTorch by %g (scaled); want <= 1e-4", n, diff/scale)
		}
	}
}

// TestErrors: the plugin's exceptions reach the host as the sdk's
// sentinel errors, with messages that say what to do.
func TestErrors(t *testing.T) {
	_, bb := start(t)
	ctx := context.Background()
	dir := oracle(t)
	for _, tc := range []struct {
		name string
		req  sdk.LoadRequest
		want error
		says string
	}{
		{"weights of another shape", sdk.LoadRequest{Arch: "mlp", WeightsPath: filepath.Join(dir, "mlp.pth")}, sdk.ErrWeights, "set the options to the checkpoint's"},
		{"bad option value", sdk.LoadRequest{Arch: "mlp", Options: map[string]string{"hidden": "-3"}}, sdk.ErrBadOption, "positive integers"},
		{"unknown option", sdk.LoadRequest{Arch: "mlp", Options: map[string]string{"width": "3"}}, sdk.ErrBadOption, "mlp takes in_features, hidden, classes"},
		{"unknown arch", sdk.LoadRequest{Arch: "mlp2"}, sdk.ErrUnknownArch, "the plugin offers mlp"},
		{"no such device", sdk.LoadRequest{Arch: "mlp", Device: "cuda:0"}, sdk.ErrDeviceUnavailable, "plugin mlp runs on cpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bb.Load(ctx, &tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Load(%+v) = %v; want %v saying %q", tc.req, err, tc.want, tc.says)
			}
		})
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "mlp", Options: map[string]string{"in_features": "8"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{2, 64}, Float32: make([]float32, 128)}})
	if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "[N, 8]") {
		t.Errorf("Extract(2x64 into in_features=8) = %v; want ErrBadInput naming [N, 8]", err)
	}
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"fc3"}, Input: &sdk.Tensor{Shape: []int64{2, 8}, Float32: make([]float32, 16)}})
	if !errors.Is(err, sdk.ErrUnknownLayer) || !strings.Contains(err.Error(), `"fc1"`) {
		t.Errorf("Extract(fc3) = %v; want ErrUnknownLayer suggesting fc1", err)
	}
	_, err = m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"fc.*"}})
	if !errors.Is(err, sdk.ErrNoMatch) || !strings.Contains(err.Error(), `"fc1.*"`) {
		t.Errorf("SetTrainable(fc.*) = %v; want ErrNoMatch suggesting fc1.*", err)
	}
}

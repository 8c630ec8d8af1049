package resnet_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-resnet binary, through go-plugin.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := testenv.BuildPlugin(t, "resnet")
	bb := sdktest.Start(t, filepath.Join(dir, "gozoo-backbone-resnet"))
	sdktest.Run(t, bb, sdktest.WithArch("resnet18"), sdktest.WithInputShape(-1, 3, 64, 48),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("conv1", "layer2.1.conv2", "layer4", "avgpool", "fc"))
}

// TestSurvivesSIGKILL kills the resnet plugin process in the middle of a
// multi-batch extraction; the host restarts it, replays the model's load
// and freeze history and the in-flight batch, and every row comes back
// equal to an uninterrupted run.
func TestSurvivesSIGKILL(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := testenv.BuildPlugin(t, "resnet")
	ctx := context.Background()
	h, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bb, err := h.Backbone(ctx, "resnet")
	if err != nil {
		t.Fatal(err)
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Seed: 3, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, r := range []*sdk.SetTrainableRequest{{Patterns: []string{"*"}}, {Patterns: []string{"layer4.*", "fc.*"}, Trainable: true}} {
		if _, err := m.SetTrainable(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	x := sdk.Zeros(12, 3, 48, 40)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%97)/50 - 1
	}
	req := &sdk.ExtractRequest{Layers: []string{"layer3", "avgpool"}, Input: x}
	want, err := host.ExtractBatches(ctx, m, req, 2, nil)
	if err != nil {
		t.Fatal(err)
	}

	pid, err := h.PID("resnet")
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	got, err := host.ExtractBatches(ctx, m, req, 2, func(done, total int) {
		if done == 6 && !killed { // halfway: the next batch meets a dead plugin
			killed = true
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill %d: %v", pid, err)
			}
		}
	})
	if err != nil {
		t.Fatalf("ExtractBatches across a SIGKILL: %v", err)
	}
	if !killed {
		t.Fatal("the plugin was never killed")
	}
	newPID, err := h.PID("resnet")
	if err != nil || newPID == pid {
		t.Fatalf("PID after the kill = %d, %v; want a new process (old %d)", newPID, err, pid)
	}
	for _, name := range req.Layers {
		w, g := want.Outputs[name], got.Outputs[name]
		if !sdk.EqualShape(g.Shape, w.Shape) {
			t.Fatalf("%s shape = %v; want %v", name, g.Shape, w.Shape)
		}
		for i := range w.Float32 {
			if g.Float32[i] != w.Float32[i] {
				t.Fatalf("%s[%d] = %v after the crash; want %v", name, i, g.Float32[i], w.Float32[i])
			}
		}
	}
	// The freeze history was replayed into the new process.
	params, err := m.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		ok, _ := sdk.MatchPattern("layer4.*", p.Name)
		fc, _ := sdk.MatchPattern("fc.*", p.Name)
		if p.Trainable != (ok || fc) {
			t.Errorf("after restart %s trainable = %v; want %v", p.Name, p.Trainable, ok || fc)
		}
	}
}

// TestRefusesAbsurdSizes asks the real plugin process for models and
// thread counts that would exhaust it: each is refused with an error
// naming the limit, before anything is allocated, and the same process
// then serves a normal model.
func TestRefusesAbsurdSizes(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := testenv.BuildPlugin(t, "resnet")
	ctx := context.Background()
	h, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bb, err := h.Backbone(ctx, "resnet")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := h.PID("resnet")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"1e11 classes", map[string]string{"num_classes": "100000000000"}, "parameter fc.weight of shape [100000000000, 512] would have 51200000000000 elements, over the limit of 2147483648 (2^31) per tensor"},
		{"max int64 classes", map[string]string{"num_classes": "9223372036854775807"}, "more than 9.2e18 elements"},
		{"width 4096", map[string]string{"width": "4096"}, "with layer1.1.conv2.weight (shape [4096, 4096, 3, 3]), over the limit of 536870912 per model"},
		{"width 1024", map[string]string{"width": "1024"}, "over the limit of 536870912 per model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Options: tc.opts, Threads: 1})
			if err == nil {
				m.Close()
				t.Fatalf("Load(%v) succeeded; want it refused", tc.opts)
			}
			if !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%v) = %v; want sdk.ErrBadOption containing %q", tc.opts, err, tc.want)
			}
		})
	}
	t.Run("100000 threads", func(t *testing.T) {
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"width": "8"}, Threads: 100000})
		if err == nil {
			defer m.Close()
			x := sdk.Zeros(1, 3, 32, 32)
			_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: x})
		}
		if !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), "100000 threads is over the limit") {
			t.Fatalf("100000 threads: %v; want sdk.ErrBadOption naming the limit", err)
		}
	})
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"width": "8"}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: sdk.Zeros(2, 3, 32, 32)}); err != nil {
		t.Fatalf("a normal model after the refusals: %v", err)
	}
	if now, err := h.PID("resnet"); err != nil || now != pid {
		t.Errorf("plugin pid %d before the refusals, %d (%v) after; want the same process", pid, now, err)
	}
}

package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

var toyBin string

func TestMain(m *testing.M) {
	// Describe answers are cached per plugin file: keep the tests' out of
	// the user's cache.
	cache, err := os.MkdirTemp("", "gozoo-host-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("GOZOO_CACHE", cache)
	toyBin, err = toyplugin.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	toyplugin.Cleanup()
	os.RemoveAll(cache)
	os.Exit(code)
}

func newClient(t testing.TB, opts ...host.Option) *host.Client {
	t.Helper()
	c, err := host.New(append([]host.Option{host.WithPluginPath(filepath.Dir(toyBin))}, opts...)...)
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func toy(t testing.TB, c *host.Client) sdk.Backbone {
	t.Helper()
	bb, err := c.Backbone(context.Background(), "toy")
	if err != nil {
		t.Fatalf("Backbone(toy) = %v", err)
	}
	return bb
}

func load(t testing.TB, bb sdk.Backbone, opts map[string]string) sdk.Model {
	t.Helper()
	m, err := bb.Load(context.Background(), &sdk.LoadRequest{Arch: "toy", Options: opts, Seed: 3})
	if err != nil {
		t.Fatalf("Load(toy) = %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func rows(n, d int64) *sdk.Tensor {
	x := sdk.Zeros(n, d)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%1013)*0.25 - 100
	}
	return x
}

func TestConformance(t *testing.T) {
	sdktest.Run(t, sdktest.Start(t, toyBin))
}

func TestLargeTensor(t *testing.T) {
	m := load(t, toy(t, newClient(t)), map[string]string{"dim": "4096"})
	x := rows(4096, 4096) // 64 MiB of float32
	resp, err := m.Extract(context.Background(), &sdk.ExtractRequest{Layers: []string{"lin", "sum"}, Input: x})
	if err != nil {
		t.Fatalf("Extract(64 MiB) = %v", err)
	}
	lin := resp.Outputs["lin"]
	if !sdk.EqualShape(lin.Shape, x.Shape) {
		t.Fatalf("lin shape %v; want %v", lin.Shape, x.Shape)
	}
	for i, v := range x.Float32 {
		if lin.Float32[i] != 2*v {
			t.Fatalf("lin[%d] = %v; want %v", i, lin.Float32[i], 2*v)
		}
	}
	if s := resp.Outputs["sum"]; !sdk.EqualShape(s.Shape, []int64{4096, 1}) {
		t.Errorf("sum shape %v; want [4096, 1]", s.Shape)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	bb := toy(t, newClient(t))
	m := load(t, bb, nil)
	x := rows(2, 4)

	_, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet"})
	if !errors.Is(err, sdk.ErrUnknownArch) || !strings.Contains(err.Error(), `the toy plugin offers only "toy"`) {
		t.Errorf("Load(resnet) = %v; want ErrUnknownArch with the plugin's message", err)
	}
	_, err = bb.Load(ctx, &sdk.LoadRequest{Arch: "toy", Options: map[string]string{"dim": "x"}})
	if !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("Load(dim=x) = %v; want ErrBadOption", err)
	}
	_, err = bb.Load(ctx, &sdk.LoadRequest{Arch: "toy", Device: "cuda"})
	if !errors.Is(err, sdk.ErrDeviceUnavailable) {
		t.Errorf("Load(cuda) = %v; want ErrDeviceUnavailable", err)
	}

	_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"lim"}, Input: x})
	var le *sdk.LayerError
	if !errors.Is(err, sdk.ErrUnknownLayer) || !errors.As(err, &le) || le.Name != "lim" || len(le.Suggestions) == 0 || le.Suggestions[0] != "lin" {
		t.Errorf("Extract(lim) = %v (%#v); want a LayerError suggesting lin", err, le)
	}
	if !strings.Contains(err.Error(), `did you mean "lin"`) {
		t.Errorf("Extract(lim) message %q lacks the suggestion", err)
	}

	_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"lin"}, Input: rows(2, 5)})
	var se *sdk.ShapeError
	if !errors.Is(err, sdk.ErrBadInput) || !errors.As(err, &se) || !reflect.DeepEqual(se.Got, []int64{2, 5}) {
		t.Errorf("Extract([2,5]) = %v; want a ShapeError", err)
	}

	// A typed-nil-free client check: an input that is not a valid tensor
	// never leaves the host.
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: &sdk.Tensor{Shape: []int64{3}, Float32: []float32{1}}})
	if !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract(invalid tensor) = %v; want ErrBadInput", err)
	}

	if _, ok := m.(sdk.Exporter); ok {
		t.Errorf("toy model implements sdk.Exporter; its plugin has no export capability")
	}
	if _, ok := m.(sdk.Trainer); !ok {
		t.Errorf("toy model does not implement sdk.Trainer; its plugin can train")
	}
}

func TestTrain(t *testing.T) {
	m := load(t, toy(t, newClient(t)), map[string]string{"dim": "2"})
	batches := make(chan sdk.TrainBatch)
	go func() {
		defer close(batches)
		for epoch := 0; epoch < 5; epoch++ {
			for b := 0; b < 4; b++ {
				// Class 1 when the first feature is positive.
				x := sdk.Zeros(8, 2)
				labels := make([]int64, 8)
				for i := range 8 {
					v := float32(i-4) + 0.5
					x.Float32[2*i], x.Float32[2*i+1] = v, float32(b)*0.1
					if v > 0 {
						labels[i] = 1
					}
				}
				batches <- sdk.TrainBatch{Input: x, Labels: labels, EndOfEpoch: b == 3}
			}
		}
	}()
	var events []*sdk.TrainEvent
	err := m.(sdk.Trainer).Train(context.Background(), &sdk.TrainRequest{Optimizer: "sgd", LR: 0.1, Epochs: 5, Batches: batches},
		func(e *sdk.TrainEvent) error { events = append(events, e); return nil })
	if err != nil {
		t.Fatalf("Train() = %v", err)
	}
	if len(events) != 21 || events[len(events)-1].Message != "done" {
		t.Fatalf("Train() sent %d events, last %+v; want 20 steps and done", len(events), events[len(events)-1])
	}
	first, last := events[0], events[len(events)-2]
	if !(last.Loss < first.Loss) || last.Accuracy != 1 || last.Epoch != 4 || last.Step != 20 {
		t.Errorf("training went from %+v to %+v; want loss down, accuracy 1, epoch 4, step 20", first, last)
	}

	// An error from the events callback stops the run and comes back.
	stop := errors.New("stop here")
	batches2 := make(chan sdk.TrainBatch, 1)
	batches2 <- sdk.TrainBatch{Input: rows(1, 2), Labels: []int64{0}}
	err = m.(sdk.Trainer).Train(context.Background(), &sdk.TrainRequest{LR: 0.1, Batches: batches2},
		func(*sdk.TrainEvent) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Train() with a failing callback = %v; want %v", err, stop)
	}
	// Bad optimizer is a plugin-side error.
	batches3 := make(chan sdk.TrainBatch)
	close(batches3)
	err = m.(sdk.Trainer).Train(context.Background(), &sdk.TrainRequest{Optimizer: "adamw", Batches: batches3}, func(*sdk.TrainEvent) error { return nil })
	if !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("Train(adamw) = %v; want ErrBadOption", err)
	}
}

func TestChecksum(t *testing.T) {
	sum, err := fileSum(toyBin)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, host.WithChecksums(map[string]string{"toy": sum}))
	if _, err := c.Backbone(context.Background(), "toy"); err != nil {
		t.Errorf("Backbone(toy) with the right pin = %v", err)
	}

	wrong := strings.Repeat("ab", 32)
	c = newClient(t, host.WithChecksums(map[string]string{"toy": wrong}))
	_, err = c.Backbone(context.Background(), "toy")
	if !errors.Is(err, host.ErrChecksum) {
		t.Fatalf("Backbone(toy) with a wrong pin = %v; want ErrChecksum", err)
	}
	for _, want := range []string{toyBin, wrong, sum, "reinstall"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("checksum error %q does not mention %q", err, want)
		}
	}
	if _, err := c.PID("toy"); err == nil {
		t.Errorf("a refused plugin is running")
	}

	if _, err := host.New(host.WithChecksums(map[string]string{"toy": "123"})); err == nil {
		t.Errorf("WithChecksums(123) = nil error; want a hex sha256 error")
	}
}

func fileSum(path string) (string, error) {
	c, err := host.New(host.WithPluginPath(filepath.Dir(path)))
	if err != nil {
		return "", err
	}
	defer c.Close()
	infos, err := c.Plugins()
	if err != nil {
		return "", err
	}
	for _, in := range infos {
		if in.Path == path {
			return in.SHA256, nil
		}
	}
	return "", fmt.Errorf("%s not found by Plugins()", path)
}

// TestCrashRecovery kills the plugin with SIGKILL in the middle of a
// 20-batch extraction; the host restarts it, loads the model again with
// its SetTrainable history, repeats the batch and returns every row.
func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	var log strings.Builder
	var logMu sync.Mutex
	c := newClient(t, host.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &log}, nil))))
	m := load(t, toy(t, c), map[string]string{"delay_ms": "60"})
	if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"head.*"}, Trainable: true}); err != nil {
		t.Fatal(err)
	}
	req := &sdk.ExtractRequest{Layers: []string{"lin", "sum", "head"}, Input: rows(40, 4)}

	want, err := toyplugin.New().Load(ctx, &sdk.LoadRequest{Arch: "toy", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantOut, err := host.ExtractBatches(ctx, want, req, 2, nil)
	if err != nil {
		t.Fatal(err)
	}

	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	var killed atomic.Bool
	var calls []int
	got, err := host.ExtractBatches(ctx, m, req, 2, func(done, total int) {
		calls = append(calls, done)
		if done == 10 {
			go func() {
				time.Sleep(30 * time.Millisecond) // inside the next batch's 60 ms
				killed.Store(syscall.Kill(pid, syscall.SIGKILL) == nil)
			}()
		}
	})
	if err != nil {
		t.Fatalf("ExtractBatches() across a crash = %v", err)
	}
	if !killed.Load() {
		t.Fatalf("the plugin was not killed")
	}
	if len(calls) != 20 || calls[19] != 40 {
		t.Errorf("progress calls %v; want 20 ending at 40", calls)
	}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("ExtractBatches() across a crash differs from an uninterrupted run")
	}
	logMu.Lock()
	if !strings.Contains(log.String(), "restarting plugin") {
		t.Errorf("the host did not restart the plugin inside a call; log:\n%s", log.String())
	}
	logMu.Unlock()
	pid2, err := c.PID("toy")
	if err != nil || pid2 == pid {
		t.Errorf("PID after the crash = %d, %v; want a new process (old %d)", pid2, err, pid)
	}
	ps, err := m.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Trainable != (p.Name == "head.weight") {
			t.Errorf("after restart %s trainable = %v; the SetTrainable history was not replayed", p.Name, p.Trainable)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestCrashBounded(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, host.WithMaxRestarts(0))
	m := load(t, toy(t, c), map[string]string{"delay_ms": "500"})
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		syscall.Kill(pid, syscall.SIGKILL)
	}()
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: rows(1, 4)})
	if !errors.Is(err, sdk.ErrPluginCrashed) {
		t.Fatalf("Extract() with no restarts allowed = %v; want ErrPluginCrashed", err)
	}
	// The next call finds a fresh process and a reloaded model.
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: rows(1, 4)}); err != nil {
		t.Errorf("Extract() after the crash = %v", err)
	}
}

func TestCloseKillsChildren(t *testing.T) {
	ctx := context.Background()
	c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)))
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, toy(t, c), nil)
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin pid %d after Close: kill(0) = %v; want ESRCH (gone)", pid, err)
	}
	if _, err := c.Backbone(ctx, "toy"); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Backbone() after Close = %v; want ErrClosed", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: rows(1, 4)}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Extract() after Close = %v; want ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("model Close() after client Close = %v", err)
	}
	var nilClient *host.Client
	if err := nilClient.Close(); err != nil {
		t.Errorf("nil Client Close() = %v", err)
	}
}

func TestNotFound(t *testing.T) {
	c := newClient(t)
	if _, err := c.Backbone(context.Background(), "resnet"); !errors.Is(err, host.ErrNotFound) || !strings.Contains(err.Error(), "GOZOO_PLUGIN_PATH") {
		t.Errorf("Backbone(resnet) = %v; want ErrNotFound with a hint", err)
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	man := fmt.Sprintf(`{"command": [%q], "env": {"TOY_NAME": "frommanifest"}}`, toyBin)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-viaman.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bb, err := c.Backbone(context.Background(), "viaman")
	if err != nil {
		t.Fatalf("Backbone(viaman) = %v", err)
	}
	d, err := bb.Describe(context.Background())
	if err != nil || d.Name != "frommanifest" {
		t.Errorf("Describe() via manifest = %+v, %v; want name frommanifest from the manifest's env", d, err)
	}
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{`{"command": ["python3", "-m", "x"], "env": {"A": "1"}}`, false},
		{`{"command": ["./run.sh"], "auto_mtls": false}`, true},
		{`{"command": ["./run.sh"], "auto_mtls": true}`, false},
		{`{"command": []}`, true},
		{`{"command": [""]}`, true},
		{`{"cmd": ["x"]}`, true},
		{`{"command": ["x"], "env": {"A=B": "1"}}`, true},
		{`{"command": ["x"]} {}`, true},
		{`not json`, true},
		{`{"command": ["x"], "sources": ["pkg", "lib/a.py"]}`, false},
		{`{"command": ["x"], "sources": ["../pkg"]}`, true},
		{`{"command": ["x"], "sources": ["/usr/lib/python3"]}`, true},
		{`{"command": ["x"], "sources": [""]}`, true},
	}
	for _, tt := range tests {
		_, err := host.ParseManifest([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseManifest(%s) = %v; want error %v", tt.in, err, tt.wantErr)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"command": ["python3"], "env": {"A": "1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := host.ParseManifest(data)
		if err == nil && (len(m.Command) == 0 || m.Command[0] == "") {
			t.Errorf("ParseManifest(%q) accepted an empty command", data)
		}
	})
}

func TestPlugins(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "gozoo-backbone-one", 0o755)
	write(a, "gozoo-backbone-noexec", 0o644)
	write(a, "gozoo-backbone-two.plugin", 0o644)
	write(a, "gozoo-backbone-", 0o755)
	write(a, "README", 0o755)
	write(b, "gozoo-backbone-one", 0o755) // shadowed by a's
	write(b, "gozoo-backbone-three", 0o755)
	c, err := host.New(host.WithPluginPath(a, filepath.Join(a, "missing"), b))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	sum := func(content string) string {
		h := sha256.Sum256([]byte(content))
		return hex.EncodeToString(h[:])
	}
	want := []host.PluginInfo{
		{Name: "one", Path: filepath.Join(a, "gozoo-backbone-one"), SHA256: sum("gozoo-backbone-one")},
		{Name: "three", Path: filepath.Join(b, "gozoo-backbone-three"), SHA256: sum("gozoo-backbone-three")},
		{Name: "two", Path: filepath.Join(a, "gozoo-backbone-two.plugin"), Manifest: true, SHA256: sum("gozoo-backbone-two.plugin")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plugins() = %+v; want %+v", got, want)
	}
}

func TestExtractBatches(t *testing.T) {
	ctx := context.Background()
	m, err := toyplugin.New().Load(ctx, &sdk.LoadRequest{Arch: "toy"})
	if err != nil {
		t.Fatal(err)
	}
	x := rows(7, 4)
	whole, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"lin", "head"}, Input: x})
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{1, 2, 3, 7, 100} {
		got, err := host.ExtractBatches(ctx, m, &sdk.ExtractRequest{Layers: []string{"lin", "head"}, Input: x}, bs, nil)
		if err != nil || !reflect.DeepEqual(got, whole) {
			t.Errorf("ExtractBatches(batch %d) = %v; want the same as one Extract", bs, err)
		}
	}
	tests := []struct {
		name string
		req  *sdk.ExtractRequest
		bs   int
	}{
		{"zero batch", &sdk.ExtractRequest{Input: x}, 0},
		{"nil input", &sdk.ExtractRequest{}, 2},
		{"lengths mismatch", &sdk.ExtractRequest{Input: x, Lengths: []int64{1}}, 2},
		{"scalar", &sdk.ExtractRequest{Input: &sdk.Tensor{Float32: []float32{1}}}, 2},
		{"bad layer", &sdk.ExtractRequest{Layers: []string{"nope"}, Input: x}, 2},
	}
	for _, tt := range tests {
		if _, err := host.ExtractBatches(ctx, m, tt.req, tt.bs, nil); err == nil {
			t.Errorf("ExtractBatches(%s) = nil error", tt.name)
		}
	}
}

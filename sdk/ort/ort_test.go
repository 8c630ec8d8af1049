package ort

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// childEnv marks a re-executed test binary that checks library loading
// errors; it must not load the real library first.
const childEnv = "GOZOO_ORT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		if _, err := Version(); err != nil && os.Getenv("GOZOO_REQUIRE_ALL") != "1" {
			// Examples cannot skip, so the whole package does.
			fmt.Printf("SKIP sdk/ort: %v\n", err)
			os.Exit(0)
		}
	}
	code := m.Run()
	if modelDir != "" {
		os.RemoveAll(modelDir)
	}
	os.Exit(code)
}

var (
	modelMu  sync.Mutex
	modelDir string
)

// models returns a directory holding gen_models.py's models and numpy
// reference arrays, generated once per test binary.
func models(t testing.TB) string {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	if modelDir == "" {
		dir, err := os.MkdirTemp("", "gozoo-ort-models")
		if err != nil {
			t.Fatal(err)
		}
		testenv.RunPython(t, "testdata/gen_models.py", dir)
		modelDir = dir
	}
	return modelDir
}

func loadModel(t testing.TB, name string, opts ...Option) *Session {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(models(t), name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(b, opts...)
	if err != nil {
		t.Fatalf("NewSession(%s) = %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func array(t testing.TB, name string) *sdk.Tensor {
	t.Helper()
	a, err := npy.ReadFile(filepath.Join(models(t), name+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// closeTo compares tensors: int64 exactly, float32 within 1e-5 relative
// to the reference's largest magnitude.
func closeTo(t testing.TB, what string, got, want *sdk.Tensor) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: missing", what)
	}
	if !sdk.EqualShape(got.Shape, want.Shape) || got.DType() != want.DType() {
		t.Fatalf("%s: %s %v; want %s %v", what, got.DType(), got.Shape, want.DType(), want.Shape)
	}
	if want.DType() == sdk.Int64 {
		if !slices.Equal(got.Int64, want.Int64) {
			t.Fatalf("%s = %v; want %v", what, got.Int64, want.Int64)
		}
		return
	}
	scale := float32(1)
	for _, v := range want.Float32 {
		scale = max(scale, float32(math.Abs(float64(v))))
	}
	for i := range want.Float32 {
		if d := math.Abs(float64(got.Float32[i] - want.Float32[i])); d > 1e-5*float64(scale) {
			t.Fatalf("%s[%d] = %v; want %v (diff %g)", what, i, got.Float32[i], want.Float32[i], d)
		}
	}
}

func TestRunMatchesNumpy(t *testing.T) {
	tests := []struct {
		model   string
		inputs  map[string]string // input name -> .npy
		outputs map[string]string // output name -> .npy
	}{
		{"mlp", map[string]string{"x": "mlp_x"}, map[string]string{"fc": "mlp_fc", "relu": "mlp_relu", "rowsum": "mlp_rowsum", "total": "mlp_total"}},
		{"embed", map[string]string{"ids": "embed_ids"}, map[string]string{"emb": "embed_emb", "doubled": "embed_doubled"}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			s := loadModel(t, tt.model)
			in := map[string]*sdk.Tensor{}
			for name, file := range tt.inputs {
				in[name] = array(t, file)
			}
			if got := s.InputNames(); !slices.Equal(got, slices.Sorted(maps.Keys(tt.inputs))) {
				t.Errorf("InputNames() = %v; want %v", got, slices.Sorted(maps.Keys(tt.inputs)))
			}
			out, err := s.Run(context.Background(), in, nil)
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			if len(out) != len(tt.outputs) || len(s.OutputNames()) != len(tt.outputs) {
				t.Fatalf("Run returned %d outputs, OutputNames %v; want %d", len(out), s.OutputNames(), len(tt.outputs))
			}
			for name, file := range tt.outputs {
				closeTo(t, tt.model+"."+name, out[name], array(t, file))
			}
		})
	}
}

func TestSubsetOutputs(t *testing.T) {
	s := loadModel(t, "mlp")
	in := map[string]*sdk.Tensor{"x": array(t, "mlp_x")}
	all := s.OutputNames()
	// Every non-empty subset, in reverse order, more than the subset cache
	// holds, so both cached subset sessions and the fallback run.
	for mask := 1; mask < 1<<len(all); mask++ {
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			if mask&(1<<i) != 0 {
				want = append(want, all[i])
			}
		}
		req := append(slices.Clone(want), want[0]) // a duplicate is harmless
		for round := 0; round < 2; round++ {
			out, err := s.Run(context.Background(), in, req)
			if err != nil {
				t.Fatalf("Run(%v) = %v", req, err)
			}
			if got := slices.Sorted(maps.Keys(out)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Fatalf("Run(%v) returned %v", req, got)
			}
			for _, name := range want {
				closeTo(t, fmt.Sprintf("Run(%v)[%s]", req, name), out[name], array(t, "mlp_"+name))
			}
		}
	}
	s.subMu.Lock()
	n := len(s.subsets)
	s.subMu.Unlock()
	if n != maxSubsetSessions {
		t.Errorf("%d subset sessions cached; want %d", n, maxSubsetSessions)
	}
}

func TestRunErrors(t *testing.T) {
	s := loadModel(t, "mlp")
	x := array(t, "mlp_x")
	ids := &sdk.Tensor{Shape: []int64{5, 4}, Int64: make([]int64, 20)}
	tests := []struct {
		name    string
		inputs  map[string]*sdk.Tensor
		outputs []string
		want    error
		text    string
	}{
		{"unknown output", map[string]*sdk.Tensor{"x": x}, []string{"rel"}, sdk.ErrUnknownLayer, `did you mean "relu"`},
		{"missing input", map[string]*sdk.Tensor{}, nil, sdk.ErrBadInput, `missing input "x"`},
		{"extra input", map[string]*sdk.Tensor{"x": x, "y": x}, nil, sdk.ErrBadInput, `no input "y"`},
		{"dtype", map[string]*sdk.Tensor{"x": ids}, nil, sdk.ErrBadInput, `input "x" (int64) has shape [5, 4]; want float32 [N, 4]`},
		{"shape", map[string]*sdk.Tensor{"x": sdk.Zeros(5, 5)}, nil, sdk.ErrBadInput, `input "x" (float32) has shape [5, 5]; want float32 [N, 4]`},
		{"rank", map[string]*sdk.Tensor{"x": sdk.Zeros(20)}, nil, sdk.ErrBadInput, `input "x" (float32) has shape [20]; want float32 [N, 4]`},
		{"invalid tensor", map[string]*sdk.Tensor{"x": {Shape: []int64{2, 4}, Float32: make([]float32, 3)}}, nil, sdk.ErrBadInput, "needs 8 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), tt.inputs, tt.outputs)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.text) {
				t.Fatalf("Run = %v; want %v containing %q", err, tt.want, tt.text)
			}
		})
	}
	if _, err := NewSession([]byte("not a model")); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("NewSession(garbage) = %v; want sdk.ErrBadInput", err)
	}
}

func TestGPUDevicesUnavailable(t *testing.T) {
	dir := filepath.Dir(LibraryPath())
	for _, lib := range []string{"libonnxruntime_providers_cuda.so", "libonnxruntime_providers_tensorrt.so"} {
		if _, err := os.Stat(filepath.Join(dir, lib)); err == nil {
			t.Skipf("%s has GPU providers (%s); this test covers CPU-only builds", dir, lib)
		}
	}
	b, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		device, missing string
	}{
		{"cuda", "libonnxruntime_providers_cuda.so"},
		{"cuda:1", "libonnxruntime_providers_cuda.so"},
		{"tensorrt", "libonnxruntime_providers_tensorrt.so"},
	}
	for _, tt := range tests {
		t.Run(tt.device, func(t *testing.T) {
			s, err := NewSession(b, WithDevice(tt.device))
			if err == nil {
				s.Close()
				t.Fatalf("NewSession(WithDevice(%q)) succeeded on a CPU-only library", tt.device)
			}
			if !errors.Is(err, sdk.ErrDeviceUnavailable) || !strings.Contains(err.Error(), tt.missing) {
				t.Fatalf("NewSession(WithDevice(%q)) = %v; want sdk.ErrDeviceUnavailable naming %s", tt.device, err, tt.missing)
			}
			var de *DeviceError
			if !errors.As(err, &de) || !slices.Contains(de.Missing, tt.missing) || de.Device != tt.device {
				t.Fatalf("NewSession(WithDevice(%q)) = %#v; want a *DeviceError for %s missing %s", tt.device, err, tt.device, tt.missing)
			}
		})
	}
	t.Run("Devices", func(t *testing.T) {
		got := map[string]DeviceStatus{}
		for _, d := range Devices() {
			got[d.Device] = d
		}
		if !got["cpu"].Available || got["cpu"].Err != nil {
			t.Errorf("Devices()[cpu] = %+v; want available", got["cpu"])
		}
		for _, dev := range []string{"cuda", "tensorrt"} {
			if d := got[dev]; d.Available || !errors.Is(d.Err, sdk.ErrDeviceUnavailable) || !strings.Contains(d.Err.Error(), "libonnxruntime_providers_"+dev+".so") {
				t.Errorf("Devices()[%s] = %+v; want unavailable naming its provider library", dev, d)
			}
		}
	})
}

func TestOptions(t *testing.T) {
	b, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []Option
		text string // "" when NewSession must succeed
	}{
		{"cpu", []Option{WithDevice("cpu")}, ""},
		{"threads", []Option{WithThreads(1), WithDevice("cpu"), WithThreads(1)}, ""},
		{"threads at the limit", []Option{WithThreads(MaxThreads())}, ""},
		{"gpu", []Option{WithDevice("gpu")}, `"cpu", "cuda", "cuda:N"`},
		{"upper case", []Option{WithDevice("CUDA")}, `unknown device "CUDA"`},
		{"bad index", []Option{WithDevice("cuda:x")}, `unknown device "cuda:x"`},
		{"negative index", []Option{WithDevice("cuda:-1")}, `unknown device "cuda:-1"`},
		{"padded index", []Option{WithDevice("cuda:01")}, `unknown device "cuda:01"`},
		{"zero threads", []Option{WithThreads(0)}, "at least 1"},
		{"100000 threads", []Option{WithThreads(100000)}, fmt.Sprintf("over the limit of %d", MaxThreads())},
		{"one thread over the limit", []Option{WithThreads(MaxThreads() + 1)}, "over the limit"},
		{"device conflict", []Option{WithDevice("cpu"), WithDevice("cuda")}, "device set twice"},
		{"threads conflict", []Option{WithThreads(1), WithThreads(2)}, "threads set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSession(b, tt.opts...)
			if tt.text == "" {
				if err != nil {
					t.Fatalf("NewSession = %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("NewSession succeeded; want an error containing %q", tt.text)
			}
			if !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("NewSession = %v; want sdk.ErrBadOption containing %q", err, tt.text)
			}
		})
	}
}

func TestThreadsGiveSameResults(t *testing.T) {
	in := map[string]*sdk.Tensor{"x": array(t, "mlp_x")}
	for _, n := range []int{1, 2, 4} {
		s := loadModel(t, "mlp", WithThreads(n))
		out, err := s.Run(context.Background(), in, []string{"fc"})
		if err != nil {
			t.Fatalf("WithThreads(%d): Run = %v", n, err)
		}
		closeTo(t, fmt.Sprintf("WithThreads(%d) fc", n), out["fc"], array(t, "mlp_fc"))
	}
}

func TestConcurrentRun(t *testing.T) {
	s := loadModel(t, "mlp", WithThreads(1))
	in := map[string]*sdk.Tensor{"x": array(t, "mlp_x")}
	ref, err := s.Run(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	subsets := [][]string{nil, {"fc"}, {"relu", "total"}, {"rowsum"}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				req := subsets[(g+i)%len(subsets)]
				out, err := s.Run(context.Background(), in, req)
				if err != nil {
					errs <- err
					return
				}
				want := req
				if want == nil {
					want = s.OutputNames()
				}
				if len(out) != len(want) {
					errs <- fmt.Errorf("Run(%v) returned %d outputs", req, len(out))
					return
				}
				for _, name := range want {
					if !slices.Equal(out[name].Float32, ref[name].Float32) {
						errs <- fmt.Errorf("concurrent Run(%v)[%s] = %v; want %v", req, name, out[name].Float32, ref[name].Float32)
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
}

// slowInput is big enough that slow.onnx takes about a second.
func slowInput() map[string]*sdk.Tensor {
	x := sdk.Zeros(512, 256)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%7) - 3
	}
	return map[string]*sdk.Tensor{"x": x}
}

func TestCancel(t *testing.T) {
	s := loadModel(t, "slow")
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Run(ctx, slowInput(), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run(cancelled ctx) = %v; want context.Canceled", err)
		}
	})
	t.Run("mid-run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := s.Run(ctx, slowInput(), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run cancelled after 50ms = %v; want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.Run(ctx, slowInput(), nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run past its deadline = %v; want context.DeadlineExceeded", err)
		}
	})
	t.Run("usable afterwards", func(t *testing.T) {
		x := sdk.Zeros(1, 256)
		out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"x": x}, nil)
		if err != nil || len(out) != 1 {
			t.Fatalf("Run after cancellations = %v, %v", out, err)
		}
	})
}

func TestClose(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(models(t), "slow.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(b)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		close(started)
		_, err := s.Run(context.Background(), slowInput(), nil)
		done <- err
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	// The in-flight Run is terminated (or had not started and is refused).
	if err := <-done; !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Run in flight during Close = %v; want sdk.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	if _, err := s.Run(context.Background(), slowInput(), nil); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Run after Close = %v; want sdk.ErrClosed", err)
	}
}

func TestLibraryPath(t *testing.T) {
	t.Setenv("GOZOO_ORT_LIB", "")
	t.Setenv("GOZOO_CACHE", "/cache")
	if got, want := LibraryPath(), "/cache/onnxruntime/1.24.1/libonnxruntime.so.1"; got != want {
		t.Errorf("LibraryPath() = %q; want %q", got, want)
	}
	t.Setenv("GOZOO_ORT_LIB", "/opt/ort/libonnxruntime.so")
	if got, want := LibraryPath(), "/opt/ort/libonnxruntime.so"; got != want {
		t.Errorf("LibraryPath() with GOZOO_ORT_LIB = %q; want %q", got, want)
	}
}

func TestVersion(t *testing.T) {
	v, err := Version()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "1.") || v < MinVersion && len(v) == len(MinVersion) {
		t.Errorf("Version() = %q; want >= %s", v, MinVersion)
	}
}

// TestLibraryErrors re-executes the test binary (library loading is once
// per process) with GOZOO_ORT_LIB pointing at a missing file, an old
// library, a library that is not ONNX Runtime, and a file that is not a
// library.
func TestLibraryErrors(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		testenv.Missing(t, "a C compiler", "install gcc (cgo needs it too)")
	}
	dir := t.TempDir()
	build := func(name string, flags ...string) string {
		out := filepath.Join(dir, name)
		args := append([]string{"-shared", "-fPIC", "-o", out, "testdata/fakeort.c"}, flags...)
		if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, b)
		}
		return out
	}
	junk := filepath.Join(dir, "junk.so")
	if err := os.WriteFile(junk, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, lib, want string
		contains        []string
	}{
		{"missing", filepath.Join(dir, "nope", "libonnxruntime.so.1"), "notfound",
			[]string{"onnxruntime library not found at " + filepath.Join(dir, "nope", "libonnxruntime.so.1"), "run make setup (scripts/install-onnxruntime.sh) or set GOZOO_ORT_LIB"}},
		{"old", build("libold.so"), "version", []string{"ONNX Runtime 1.16.3", ">= " + MinVersion}},
		{"not ort", build("libother.so", "-DNO_API"), "version", []string{"not an ONNX Runtime library"}},
		{"not a library", junk, "version", []string{"cannot load"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLibraryChild$", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+tt.want, "GOZOO_ORT_LIB="+tt.lib)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(out), s) {
					t.Errorf("child output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestLibraryChild runs only inside TestLibraryErrors' child processes.
func TestLibraryChild(t *testing.T) {
	want := map[string]error{"notfound": ErrLibraryNotFound, "version": ErrLibraryVersion}[os.Getenv(childEnv)]
	if want == nil {
		t.Skip("runs as a child of TestLibraryErrors")
	}
	_, verr := Version()
	_, serr := NewSession(nil)
	devs := Devices()
	for _, err := range []error{verr, serr, devs[0].Err, devs[1].Err} {
		if !errors.Is(err, want) {
			t.Errorf("got %v; want %v", err, want)
		}
	}
	t.Logf("error: %v", verr)
}

func BenchmarkRun(b *testing.B) {
	for _, tc := range []struct {
		name    string
		outputs []string
	}{{"all", nil}, {"subset", []string{"relu"}}} {
		b.Run(tc.name, func(b *testing.B) {
			s := loadModel(b, "mlp", WithThreads(1))
			in := map[string]*sdk.Tensor{"x": array(b, "mlp_x")}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Run(ctx, in, tc.outputs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

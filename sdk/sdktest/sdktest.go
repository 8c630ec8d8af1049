package sdktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// Option configures Run.
type Option func(*config)

type config struct {
	arch    string
	shape   []int64
	options map[string]string
	layers  []string
	seed    int64
	rtol    float64
}

// WithArch picks the architecture to load (default: the first one
// Describe lists).
func WithArch(name string) Option { return func(c *config) { c.arch = name } }

// WithInputShape sets the input shape, -1 for the batch (default: the
// architecture's input spec). Use a small spatial size to keep big
// networks fast; it is required when the spec has free dimensions besides
// the batch.
func WithInputShape(shape ...int64) Option {
	return func(c *config) { c.shape = append([]int64(nil), shape...) }
}

// WithLoadOptions passes architecture options to Load.
func WithLoadOptions(opts map[string]string) Option {
	return func(c *config) { c.options = opts }
}

// WithLayers names the layers Extract is checked with (default: the first
// and the last layer; at least two are used when the model has two).
func WithLayers(names ...string) Option { return func(c *config) { c.layers = names } }

// WithSeed sets the random-init seed and the input data seed (default 1).
func WithSeed(seed int64) Option { return func(c *config) { c.seed = seed } }

// WithTolerance sets the relative tolerance for comparing a row extracted
// alone with the same row extracted in a batch (default 1e-4).
func WithTolerance(rtol float64) Option { return func(c *config) { c.rtol = rtol } }

// Start runs the plugin binary at path, which must be named
// gozoo-backbone-NAME, through sdk/host and returns its Backbone. The
// process is stopped when t ends.
func Start(t testing.TB, path string, opts ...host.Option) sdk.Backbone {
	t.Helper()
	name, ok := strings.CutPrefix(filepath.Base(path), host.Prefix)
	if !ok || name == "" {
		t.Fatalf("sdktest.Start(%q): a plugin binary must be named %sNAME", path, host.Prefix)
	}
	c, err := host.New(append([]host.Option{host.WithPluginPath(filepath.Dir(path))}, opts...)...)
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	bb, err := c.Backbone(context.Background(), name)
	if err != nil {
		t.Fatalf("start plugin %s: %v", path, err)
	}
	return bb
}

// Missing skips t, or fails it when GOZOO_REQUIRE_ALL=1 (as CI sets it),
// saying which outside resource is absent (what) and how to install it
// (hint), so that a test that needs one never passes by being skipped in
// CI. MakeFixture calls it for PyTorch; a plugin's tests call it for the
// ONNX Runtime library:
//
//	if _, err := ort.Version(); errors.Is(err, ort.ErrLibraryNotFound) {
//		sdktest.Missing(t, "the ONNX Runtime library", err.Error())
//	}
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	testenv.Missing(t, what, hint)
}

// Run runs the conformance suite against bb as subtests of t.
func Run(t *testing.T, bb sdk.Backbone, opts ...Option) {
	t.Helper()
	cfg := &config{seed: 1, rtol: 1e-4}
	for _, o := range opts {
		o(cfg)
	}
	ctx := context.Background()
	s := &suite{cfg: cfg, bb: bb}

	if !t.Run("Describe", func(t *testing.T) { s.describe(ctx, t) }) {
		return
	}
	if !t.Run("Load", func(t *testing.T) { s.load(ctx, t) }) {
		return
	}
	t.Cleanup(func() { s.m.Close() })
	if !t.Run("Layers", func(t *testing.T) { s.checkLayers(ctx, t) }) {
		return
	}
	t.Run("Extract", func(t *testing.T) { s.extract(ctx, t) })
	t.Run("Errors", func(t *testing.T) { s.errors(ctx, t) })
	t.Run("Params", func(t *testing.T) { s.params(ctx, t) })
	t.Run("Capabilities", func(t *testing.T) { s.capabilities(ctx, t) })
	t.Run("ConcurrentExtract", func(t *testing.T) { s.concurrent(ctx, t) })
	t.Run("Close", func(t *testing.T) { s.close(ctx, t) })
}

type suite struct {
	cfg    *config
	bb     sdk.Backbone
	desc   *sdk.Description
	arch   sdk.Arch
	shape  []int64 // input shape, -1 batch
	m      sdk.Model
	layers []sdk.Layer
	picked []string
}

func (s *suite) describe(ctx context.Context, t *testing.T) {
	d, err := s.bb.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe() = %v", err)
	}
	s.desc = d
	if d.Name == "" || d.Version == "" {
		t.Errorf("Describe() name %q version %q; want both set", d.Name, d.Version)
	}
	if d.ProtocolMinor < 0 {
		t.Errorf("Describe() protocol minor %d; want >= 0", d.ProtocolMinor)
	}
	if !d.Capabilities.Extract {
		t.Errorf("Describe() capabilities %+v; want Extract", d.Capabilities)
	}
	if len(d.Archs) == 0 {
		t.Fatalf("Describe() lists no architectures")
	}
	seen := map[string]bool{}
	for _, a := range d.Archs {
		if a.Name == "" || seen[a.Name] {
			t.Errorf("arch name %q is empty or repeated", a.Name)
		}
		seen[a.Name] = true
		if len(a.Input.Shape) == 0 || a.Input.Shape[0] != -1 {
			t.Errorf("arch %s input shape %v; want a -1 batch first", a.Name, a.Input.Shape)
		}
		if a.Input.DType != sdk.Float32 && a.Input.DType != sdk.Int64 {
			t.Errorf("arch %s input dtype %v; want float32 or int64", a.Name, a.Input.DType)
		}
	}
	s.arch = d.Archs[0]
	if s.cfg.arch != "" {
		i := slices.IndexFunc(d.Archs, func(a sdk.Arch) bool { return a.Name == s.cfg.arch })
		if i < 0 {
			t.Fatalf("WithArch(%q): Describe lists no such architecture", s.cfg.arch)
		}
		s.arch = d.Archs[i]
	}
	s.shape = s.arch.Input.Shape
	if s.cfg.shape != nil {
		s.shape = s.cfg.shape
	}
	for i, d := range s.shape {
		if d < 0 && i > 0 {
			t.Fatalf("input shape %v has a free dimension besides the batch: pass WithInputShape", s.shape)
		}
	}
}

func (s *suite) load(ctx context.Context, t *testing.T) {
	if _, err := s.bb.Load(ctx, &sdk.LoadRequest{Arch: "no-such-arch-" + s.arch.Name}); !errors.Is(err, sdk.ErrUnknownArch) {
		t.Errorf("Load(unknown arch) = %v; want ErrUnknownArch", err)
	}
	m, err := s.bb.Load(ctx, &sdk.LoadRequest{Arch: s.arch.Name, Options: s.cfg.options, Seed: s.cfg.seed})
	if err != nil {
		t.Fatalf("Load(%q) = %v", s.arch.Name, err)
	}
	s.m = m
	if d, ok := m.(sdk.InputDescriber); ok {
		if in := d.Input(); len(in.Shape) > 0 && (in.BatchAxis < 0 || in.BatchAxis >= len(in.Shape) || in.Shape[in.BatchAxis] != -1) {
			t.Errorf("Input() = %+v; want BatchAxis to name a -1 dimension of Shape", in)
		}
	}
}

func (s *suite) checkLayers(ctx context.Context, t *testing.T) {
	ls, err := s.m.Layers(ctx, &sdk.LayersRequest{InputShape: s.shape})
	if err != nil {
		t.Fatalf("Layers(%v) = %v", s.shape, err)
	}
	if len(ls) == 0 {
		t.Fatalf("Layers() is empty")
	}
	seen := map[string]bool{}
	for _, l := range ls {
		if l.Name == "" || seen[l.Name] {
			t.Errorf("layer name %q is empty or repeated", l.Name)
		}
		seen[l.Name] = true
		if !slices.Contains(l.Shape, -1) {
			t.Errorf("layer %s shape %v has no -1 batch dimension", l.Name, l.Shape)
		}
	}
	s.layers = ls
	s.picked = s.cfg.layers
	if len(s.picked) == 0 {
		s.picked = []string{ls[0].Name}
		if len(ls) > 1 {
			s.picked = append(s.picked, ls[len(ls)-1].Name)
		}
	}
	for _, p := range s.picked {
		if !seen[p] {
			t.Fatalf("WithLayers: layer %q is not in Layers()", p)
		}
	}
}

// input returns a deterministic input batch of n rows.
func (s *suite) input(n int64, seed int64) *sdk.Tensor {
	shape := slices.Clone(s.shape)
	shape[0] = n
	r := rand.New(rand.NewSource(seed))
	size := sdk.NumElements(shape)
	if s.arch.Input.DType == sdk.Int64 {
		x := make([]int64, size)
		for i := range x {
			x[i] = r.Int63n(10)
		}
		return &sdk.Tensor{Shape: shape, Int64: x}
	}
	x := make([]float32, size)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	return &sdk.Tensor{Shape: shape, Float32: x}
}

func (s *suite) layer(name string) sdk.Layer {
	i := slices.IndexFunc(s.layers, func(l sdk.Layer) bool { return l.Name == name })
	return s.layers[i]
}

func (s *suite) extract(ctx context.Context, t *testing.T) {
	outs := map[int64]*sdk.ExtractResponse{}
	for _, n := range []int64{1, 3} {
		x := s.input(n, s.cfg.seed)
		resp, err := s.m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: x})
		if err != nil {
			t.Fatalf("Extract(%v, batch %d) = %v", s.picked, n, err)
		}
		if len(resp.Outputs) != len(s.picked) {
			t.Errorf("Extract(%v) returned %d outputs; want %d", s.picked, len(resp.Outputs), len(s.picked))
		}
		for _, name := range s.picked {
			got, ok := resp.Outputs[name]
			if !ok {
				t.Errorf("Extract(%v) lacks %q", s.picked, name)
				continue
			}
			want := slices.Clone(s.layer(name).Shape)
			for i := range want {
				if want[i] == -1 {
					want[i] = n
				}
			}
			if !sdk.EqualShape(got.Shape, want) {
				t.Errorf("Extract(%q, batch %d) shape %v; want %v (from Layers)", name, n, got.Shape, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Extract(%q) output: %v", name, err)
			}
		}
		outs[n] = resp
	}
	// The same rows, one at a time.
	x := s.input(3, s.cfg.seed)
	for i := int64(0); i < 3; i++ {
		row, _ := x.Rows(i, i+1)
		resp, err := s.m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: row})
		if err != nil {
			t.Fatalf("Extract(row %d) = %v", i, err)
		}
		for _, name := range s.picked {
			if s.layer(name).Shape[0] != -1 {
				continue // batch is not the first dimension
			}
			want, _ := outs[3].Outputs[name].Rows(i, i+1)
			if d := maxRelDiff(resp.Outputs[name], want); d > s.cfg.rtol {
				t.Errorf("Extract(%q) row %d alone differs from the batched row by %g (relative); want <= %g", name, i, d, s.cfg.rtol)
			}
		}
	}
}

// maxRelDiff returns max |a-b| / max(1, max |b|).
func maxRelDiff(a, b *sdk.Tensor) float64 {
	if a == nil || b == nil || !sdk.EqualShape(a.Shape, b.Shape) || a.DType() != b.DType() {
		return math.Inf(1)
	}
	var diff, scale float64 = 0, 1
	if b.Int64 != nil {
		for i := range b.Int64 {
			diff = math.Max(diff, math.Abs(float64(a.Int64[i]-b.Int64[i])))
			scale = math.Max(scale, math.Abs(float64(b.Int64[i])))
		}
	} else {
		for i := range b.Float32 {
			d := math.Abs(float64(a.Float32[i] - b.Float32[i]))
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			diff = math.Max(diff, d)
			scale = math.Max(scale, math.Abs(float64(b.Float32[i])))
		}
	}
	return diff / scale
}

func (s *suite) errors(ctx context.Context, t *testing.T) {
	x := s.input(1, s.cfg.seed)
	bad := s.picked[0] + ".no_such_layer"
	_, err := s.m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{bad}, Input: x})
	if !errors.Is(err, sdk.ErrUnknownLayer) {
		t.Errorf("Extract(%q) = %v; want ErrUnknownLayer", bad, err)
	}
	// One more dimension than the model takes.
	shape := append(slices.Clone(x.Shape), 1)
	wrong := &sdk.Tensor{Shape: shape, Float32: x.Float32, Int64: x.Int64}
	_, err = s.m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: wrong})
	if !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract(input of rank %d) = %v; want ErrBadInput", len(shape), err)
	}
}

func (s *suite) params(ctx context.Context, t *testing.T) {
	ps, err := s.m.Params(ctx)
	if err != nil {
		t.Fatalf("Params() = %v", err)
	}
	if len(ps) == 0 {
		t.Fatalf("Params() is empty")
	}
	names := map[string]bool{}
	for _, p := range ps {
		if p.Name == "" || names[p.Name] {
			t.Errorf("param name %q is empty or repeated", p.Name)
		}
		names[p.Name] = true
		if p.NumElements() <= 0 {
			t.Errorf("param %s shape %v; want positive dimensions", p.Name, p.Shape)
		}
	}
	resp, err := s.m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}, Trainable: false})
	if err != nil {
		t.Fatalf("SetTrainable(*, false) = %v", err)
	}
	if len(resp.Matched) != len(ps) {
		t.Errorf("SetTrainable(*, false) matched %d params; want all %d", len(resp.Matched), len(ps))
	}
	ps, err = s.m.Params(ctx)
	if err != nil {
		t.Fatalf("Params() = %v", err)
	}
	for _, p := range ps {
		if p.Trainable {
			t.Errorf("after SetTrainable(*, false) %s is trainable", p.Name)
		}
	}
	// Unfreeze the last module: the pattern is its name's first component.
	last := ps[len(ps)-1].Name
	pattern := last
	if i := strings.IndexByte(last, '.'); i > 0 {
		pattern = last[:i] + ".*"
	}
	resp, err = s.m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{pattern}, Trainable: true})
	if err != nil {
		t.Fatalf("SetTrainable(%q, true) = %v", pattern, err)
	}
	ps, err = s.m.Params(ctx)
	if err != nil {
		t.Fatalf("Params() = %v", err)
	}
	var want []string
	for _, p := range ps {
		match, _ := sdk.MatchPattern(pattern, p.Name)
		if p.Trainable != match {
			t.Errorf("after SetTrainable(%q, true) %s trainable = %v; want %v", pattern, p.Name, p.Trainable, match)
		}
		if match {
			want = append(want, p.Name)
		}
	}
	got := slices.Sorted(slices.Values(resp.Matched))
	if slices.Sort(want); !slices.Equal(got, want) {
		t.Errorf("SetTrainable(%q, true) matched %v; want %v", pattern, got, want)
	}
	if _, err := s.m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"["}, Trainable: true}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("SetTrainable(\"[\") = %v; want ErrBadInput", err)
	}
}

func (s *suite) capabilities(ctx context.Context, t *testing.T) {
	caps := s.desc.Capabilities
	tr, isTrainer := s.m.(sdk.Trainer)
	switch {
	case caps.Train && !isTrainer:
		t.Errorf("Capabilities.Train is set but the model does not implement sdk.Trainer")
	case !caps.Train && isTrainer:
		batches := make(chan sdk.TrainBatch)
		close(batches)
		err := tr.Train(ctx, &sdk.TrainRequest{LR: 0.1, Epochs: 1, Batches: batches}, func(*sdk.TrainEvent) error { return nil })
		if !errors.Is(err, sdk.ErrUnsupported) {
			t.Errorf("Train() without Capabilities.Train = %v; want ErrUnsupported", err)
		}
	}
	ex, isExporter := s.m.(sdk.Exporter)
	switch {
	case caps.Export && !isExporter:
		t.Errorf("Capabilities.Export is set but the model does not implement sdk.Exporter")
	case !caps.Export && isExporter:
		_, err := ex.Export(ctx, &sdk.ExportRequest{Path: t.TempDir() + "/m.onnx", Format: sdk.FormatONNX})
		if !errors.Is(err, sdk.ErrUnsupported) {
			t.Errorf("Export() without Capabilities.Export = %v; want ErrUnsupported", err)
		}
	}
}

func (s *suite) concurrent(ctx context.Context, t *testing.T) {
	x := s.input(3, s.cfg.seed+1)
	ref, err := s.m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: x})
	if err != nil {
		t.Fatalf("Extract() = %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: x})
			if err != nil {
				errs <- err
				return
			}
			for _, name := range s.picked {
				if d := maxRelDiff(resp.Outputs[name], ref.Outputs[name]); d > s.cfg.rtol {
					errs <- fmt.Errorf("concurrent Extract(%q) differs by %g", name, d)
					return
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

func (s *suite) close(ctx context.Context, t *testing.T) {
	m, err := s.bb.Load(ctx, &sdk.LoadRequest{Arch: s.arch.Name, Options: s.cfg.options, Seed: s.cfg.seed})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := m.Close(); err != nil {
			t.Errorf("Close() #%d = %v; want nil", i+1, err)
		}
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: s.picked, Input: s.input(1, 1)}); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Extract() after Close = %v; want ErrClosed", err)
	}
}

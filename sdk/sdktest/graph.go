package sdktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// GraphNet is what GraphModel needs of a net; backbone.Net has it.
type GraphNet interface {
	DefaultInput() []int64
	Build(input []int64) *nn.Builder
}

// GraphModel is a net's graph as a model without weights, for archs too
// big to load in a test: Layers (for the requested input, batch free) and
// Params answer from the graph the net builds, even when it is over the
// size limit (nn.ErrTooLarge), since no weight is made; Extract and
// SetTrainable return sdk.ErrUnsupported.
func GraphModel(net GraphNet) sdk.Model { return graphModel{net} }

type graphModel struct{ net GraphNet }

func (g graphModel) build(in []int64) (*nn.Builder, error) {
	b := g.net.Build(in)
	if err := b.Err(); err != nil && !errors.Is(err, nn.ErrTooLarge) {
		return nil, err
	}
	return b, nil
}

func (g graphModel) Layers(_ context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	in := g.net.DefaultInput()
	if len(req.InputShape) > 0 {
		in = slices.Clone(req.InputShape)
		in[0] = -1
	}
	b, err := g.build(in)
	if err != nil {
		return nil, err
	}
	return b.Layers(), nil
}

func (g graphModel) Params(context.Context) ([]sdk.Param, error) {
	b, err := g.build(g.net.DefaultInput())
	if err != nil {
		return nil, err
	}
	return b.Params(), nil
}

func (g graphModel) Extract(context.Context, *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	return nil, fmt.Errorf("sdktest: a graph without weights cannot extract: %w", sdk.ErrUnsupported)
}

func (g graphModel) SetTrainable(context.Context, *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	return nil, fmt.Errorf("sdktest: a graph without weights has no trainable flags: %w", sdk.ErrUnsupported)
}

func (g graphModel) Close() error { return nil }

// CheckGraph compares net's graph with a shapes-only fixture
// (gozoo_parity.write_meta): CheckCoverage over GraphModel(net), which
// covers every module torch calls with its output shape, skipping the
// modules torch never calls, and none of which may be a layer, since a
// layer is what the forward computes.
func (f *Fixture) CheckGraph(t testing.TB, net GraphNet) {
	t.Helper()
	m := GraphModel(net)
	ls, err := m.Layers(context.Background(), &sdk.LayersRequest{InputShape: f.Input})
	if err != nil {
		t.Fatalf("Layers(%v): %v", f.Input, err)
	}
	for _, u := range f.Uncalled {
		if slices.ContainsFunc(ls, func(l sdk.Layer) bool { return l.Name == u }) {
			t.Errorf("layer %s: torch's forward never calls that module", u)
		}
	}
	if len(ls) != len(f.Outputs) {
		t.Errorf("%d layers; torch's forward calls %d modules", len(ls), len(f.Outputs))
	}
	f.CheckCoverage(t, m, f.Uncalled...)
}

// Spec is one fixture of a torchvision model for gozoo_parity.run_specs,
// which a family's make_parity.py calls with its constructor: the model
// Arch with NumClasses classes (1000 when zero), random weights (seed
// Seed) with realistic norms, and the Layers' outputs for a seeded input
// [Batch (2 when zero), 3, H, W], with a float64 run when Float64; or,
// with Meta, a shapes-only fixture of the model built on the meta device
// for an input [1, 3, H, W]. Name is its subfolder in a FixtureSet.
type Spec struct {
	Name       string
	Arch       string
	H, W       int
	Batch      int
	Seed       int
	NumClasses int
	Layers     []string
	Float64    bool
	Meta       bool
}

// Arg is the spec as one argument of run_specs.
func (s Spec) Arg() string {
	batch, classes := s.Batch, s.NumClasses
	if batch == 0 {
		batch = 2
	}
	if classes == 0 {
		classes = 1000
	}
	a := fmt.Sprintf("name=%s arch=%s h=%d w=%d batch=%d seed=%d classes=%d", s.Name, s.Arch, s.H, s.W, batch, s.Seed, classes)
	if len(s.Layers) > 0 {
		a += " layers=" + strings.Join(s.Layers, ",")
	}
	if s.Float64 {
		a += " f64"
	}
	if s.Meta {
		a += " meta"
	}
	return a
}

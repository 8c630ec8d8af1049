package backbone

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// headNet is tinyNet with an optional head on the pooled features, which
// it builds only for inputs of at least 12x12 (like a head that needs a
// large enough map); without the head it ignores a checkpoint's head keys.
type headNet struct {
	tinyNet
	head bool
}

func (n *headNet) Build(in []int64) *nn.Builder {
	b := n.tinyNet.Build(in)
	if pool, err := b.Output("pool"); err == nil && n.head && in[2] >= 12 && in[3] >= 12 {
		b.Linear("head", b.Flatten("", pool), n.width, 2, true)
	}
	return b
}

func (n *headNet) Ignores(key string) bool { return !n.head && strings.HasPrefix(key, "head.") }

var headFamily = Family{Name: "head", Version: "0.0.1", Archs: []Arch{{
	Name:    "head",
	Input:   sdk.InputSpec{Shape: []int64{-1, 3, 16, 16}, DType: sdk.Float32},
	Options: []Option{{Name: "head", Kind: Bool, Default: "true"}},
	New: func(o Options) (Net, error) {
		return &headNet{tinyNet: tinyNet{width: 4, classes: 3}, head: o.Bool("head")}, nil
	},
}}}

// TestIgnoredKeys loads a checkpoint with a head into a net without one:
// the head's keys are ignored at Load and again when a new session reads
// the checkpoint, and the outputs are those of the net with the head.
func TestIgnoredKeys(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "head.safetensors")
	b := (&headNet{tinyNet: tinyNet{width: 4, classes: 3}, head: true}).Build([]int64{-1, 3, 16, 16})
	sd := &bridge.StateDict{Tensors: nn.RandomWeights(b.Specs(), 5).StateDict()}
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
	bb := New(headFamily)
	with, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "head", WeightsPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer with.Close()
	without, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "head", WeightsPath: path, Options: map[string]string{"head": "false"}})
	if err != nil {
		t.Fatalf("Load(head=false) with head weights = %v; want them ignored", err)
	}
	defer without.Close()
	x := input(2, 16, 16)
	want, err := with.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"fc"}})
	if err != nil {
		t.Fatal(err)
	}
	// Two layer sets: the second session reads the checkpoint again.
	for _, layers := range [][]string{{"fc"}, {"conv", "fc"}} {
		got, err := without.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: layers})
		if err != nil {
			t.Fatalf("Extract(%v) without the head = %v", layers, err)
		}
		if !slicesEqual(got.Outputs["fc"].Float32, want.Outputs["fc"].Float32) {
			t.Errorf("Extract(%v) without the head: fc differs from the net with it", layers)
		}
	}
	if _, err := without.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"head"}}); !errors.Is(err, sdk.ErrUnknownLayer) {
		t.Errorf("Extract(head) without the head = %v; want ErrUnknownLayer", err)
	}
}

// TestLayerMissingAtSize asks for a layer that the net computes for its
// default input but not for a smaller one: a bad input, not an unknown
// layer.
func TestLayerMissingAtSize(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New(headFamily).Load(ctx, &sdk.LoadRequest{Arch: "head", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 12, 12), Layers: []string{"head"}}); err != nil {
		t.Errorf("Extract(head) at 12x12 = %v", err)
	}
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 8, 8), Layers: []string{"head"}})
	if !errors.Is(err, sdk.ErrBadInput) || errors.Is(err, sdk.ErrUnknownLayer) || !strings.Contains(err.Error(), "layer head is computed for input [N, 3, 16, 16] but not for [1, 3, 8, 8]") {
		t.Errorf("Extract(head) at 8x8 = %v; want ErrBadInput naming both inputs", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: input(1, 8, 8), Layers: []string{"haed"}}); !errors.Is(err, sdk.ErrUnknownLayer) {
		t.Errorf("Extract(haed) at 8x8 = %v; want ErrUnknownLayer", err)
	}
}

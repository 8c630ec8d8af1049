package backbone

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// TestFits checks which archs Family.Fits names for checkpoints that are
// one arch's, both archs', or none's.
func TestFits(t *testing.T) {
	fixed := tinyFamily.Archs[0]
	fixed.Name = "tiny_fixed"
	fixed.Infer = nil // width 4 and 3 classes, whatever the checkpoint
	// renamed reads checkpoints whose head is "head", as tiny's "fc".
	renamed := tinyFamily.Archs[0]
	renamed.Name = "tiny_renamed"
	renamed.Adapt = func(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error) {
		for _, k := range []string{"weight", "bias"} {
			if t, ok := sd["head."+k]; ok {
				sd["fc."+k] = t
				delete(sd, "head."+k)
			}
		}
		return sd, nil
	}
	f := Family{Name: "tiny", Archs: []Arch{tinyFamily.Archs[0], fixed, renamed}}
	state := func(width, classes int64, edit func(map[string]*sdk.Tensor)) map[string]*sdk.Tensor {
		b := (&tinyNet{width: width, classes: classes}).Build([]int64{-1, 3, 16, 16})
		sd := nn.RandomWeights(b.Specs(), 1).StateDict()
		if edit != nil {
			edit(sd)
		}
		return sd
	}
	tests := []struct {
		name string
		sd   map[string]*sdk.Tensor
		want []string
	}{
		{"defaults", state(4, 3, nil), []string{"tiny", "tiny_fixed", "tiny_renamed"}},
		{"inferred", state(8, 5, nil), []string{"tiny", "tiny_renamed"}},
		{"adapted", state(8, 5, func(sd map[string]*sdk.Tensor) {
			sd["head.weight"], sd["head.bias"] = sd["fc.weight"], sd["fc.bias"]
			delete(sd, "fc.weight")
			delete(sd, "fc.bias")
		}), []string{"tiny_renamed"}},
		{"missing key", state(4, 3, func(sd map[string]*sdk.Tensor) { delete(sd, "fc.bias") }), nil},
		{"extra key", state(4, 3, func(sd map[string]*sdk.Tensor) { sd["head.weight"] = sdk.Zeros(2) }), nil},
		{"shape", state(4, 3, func(sd map[string]*sdk.Tensor) { sd["conv.weight"] = sdk.Zeros(4, 3, 5, 5) }), nil},
	}
	for _, tc := range tests {
		n := len(tc.sd)
		if got := f.Fits(tc.sd); !slices.Equal(got, tc.want) || len(tc.sd) != n {
			t.Errorf("Fits(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		arch string
		sd   map[string]*sdk.Tensor
		want string
	}{
		{"tiny_fixed", state(8, 5, nil), " (the checkpoint is a tiny or tiny_renamed state_dict: load it with arch tiny)"},
		{"tiny", state(8, 5, nil), ""},
		{"tiny_fixed", tests[3].sd, ""}, // missing key
	} {
		if got := f.FitsHint(tc.arch, tc.sd); got != tc.want {
			t.Errorf("FitsHint(%s) = %q; want %q", tc.arch, got, tc.want)
		}
	}
}

// TestFitsHintOnLoad checks that Load names the arch a checkpoint is
// when the net has no Hinter of its own.
func TestFitsHintOnLoad(t *testing.T) {
	fixed := tinyFamily.Archs[0]
	fixed.Name = "tiny_fixed"
	fixed.Infer = nil
	bb := New(Family{Name: "tiny", Archs: []Arch{tinyFamily.Archs[0], fixed}})
	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	saveTiny(t, path, 8, 5, 1)
	_, err := bb.Load(context.Background(), &sdk.LoadRequest{Arch: "tiny_fixed", WeightsPath: path})
	want := "(the checkpoint is a tiny state_dict: load it with arch tiny)"
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), want) {
		t.Errorf("Load(tiny_fixed, a width-8 tiny checkpoint) = %v; want sdk.ErrWeights ending %q", err, want)
	}
}

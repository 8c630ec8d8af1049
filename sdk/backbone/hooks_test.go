package backbone

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

// wordyNet is tinyNet with its own input hint and a checkpoint check
// that refuses an fc wider than the conv.
type wordyNet struct{ tinyNet }

func (n *wordyNet) InputHint(got sdk.DType) string {
	return fmt.Sprintf("give pictures, not %s", got)
}

func (n *wordyNet) CheckWeights(sd map[string]*sdk.Tensor) error {
	if w := sd["conv.weight"]; w != nil && w.Shape[0] != n.width {
		return fmt.Errorf("conv has %d channels: %w: set width=%d", w.Shape[0], sdk.ErrWeights, w.Shape[0])
	}
	return nil
}

func wordyFamily() Family {
	f := tinyFamily
	f.Archs = []Arch{tinyFamily.Archs[0]}
	f.Archs[0].Infer = nil // the check, not the inference, must speak
	f.Archs[0].New = func(o Options) (Net, error) {
		return &wordyNet{tinyNet{width: o.Int("width"), classes: o.Int("num_classes")}}, nil
	}
	return f
}

// TestInputHinter checks that a net's own hint follows the runtime's
// dtype and shape errors.
func TestInputHinter(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New(wordyFamily()).Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	i64, _ := sdk.NewInt64Tensor([]int64{1, 3, 4, 4}, make([]int64, 48))
	f32, _ := sdk.NewTensor([]int64{1, 2, 4, 4}, make([]float32, 32))
	for _, tc := range []struct {
		x    *sdk.Tensor
		want string
	}{
		{i64, "give pictures, not int64"},
		{f32, "give pictures, not float32"},
	} {
		_, err := m.Extract(ctx, &sdk.ExtractRequest{Input: tc.x})
		if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Extract(%s %v) = %v; want ErrBadInput with %q", tc.x.DType(), tc.x.Shape, err, tc.want)
		}
	}
}

// TestWeightsChecker checks that a net's checkpoint check speaks before
// the strict match.
func TestWeightsChecker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.safetensors")
	saveTiny(t, path, 6, 3, 1)
	_, err := New(wordyFamily()).Load(context.Background(), &sdk.LoadRequest{Arch: "tiny", WeightsPath: path})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "tiny: weights tiny.safetensors: conv has 6 channels") ||
		!strings.Contains(err.Error(), "set width=6") || strings.Contains(err.Error(), "fc.weight") {
		t.Errorf("Load(width 4 over a width-6 checkpoint) = %v; want the net's ErrWeights, not the match's", err)
	}
	m, err := New(wordyFamily()).Load(context.Background(), &sdk.LoadRequest{Arch: "tiny", WeightsPath: path, Options: map[string]string{"width": "6"}})
	if err != nil {
		t.Fatalf("Load(width=6) = %v; want success", err)
	}
	m.Close()
}

// TestDTypeHint checks the runtime's own hint for an input of another
// dtype.
func TestDTypeHint(t *testing.T) {
	m, err := New(tinyFamily).Load(context.Background(), &sdk.LoadRequest{Arch: "tiny", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	i64, _ := sdk.NewInt64Tensor([]int64{1, 3, 4, 4}, make([]int64, 48))
	_, err = m.Extract(context.Background(), &sdk.ExtractRequest{Input: i64})
	if want := "input (int64) has shape [1, 3, 4, 4]; want float32 [N, 3, *, *]: convert the input to float32"; err == nil || err.Error() != want {
		t.Errorf("Extract(int64) = %v; want %q", err, want)
	}
}

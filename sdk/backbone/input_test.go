package backbone

import (
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// seqNet is a net whose layout option moves the batch, as a sequence
// model's batch_first does.
type seqNet struct{ batchFirst bool }

func (n seqNet) Input() sdk.InputSpec {
	if n.batchFirst {
		return sdk.InputSpec{Shape: []int64{-1, -1, 4}, DType: sdk.Float32}
	}
	return sdk.InputSpec{Shape: []int64{-1, -1, 4}, DType: sdk.Float32, BatchAxis: 1}
}

func (n seqNet) DefaultInput() []int64 {
	if n.batchFirst {
		return []int64{-1, 5, 4}
	}
	return []int64{5, -1, 4}
}

func (seqNet) DefaultLayer() string { return "act" }

func (seqNet) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder("Seq")
	b.ReLU("act", b.Input("input", input))
	return b
}

// TestModelInput checks that a loaded model describes the input its
// options give it, not the arch's default.
func TestModelInput(t *testing.T) {
	bb := New(Family{Name: "seq", Version: "0", Archs: []Arch{{
		Name:    "seq",
		Input:   seqNet{batchFirst: true}.Input(),
		Options: []Option{{Name: "batch_first", Kind: Bool, Default: "true"}},
		New:     func(o Options) (Net, error) { return seqNet{batchFirst: o.Bool("batch_first")}, nil },
	}}})
	for _, tc := range []struct {
		batchFirst string
		axis       int
	}{{"true", 0}, {"false", 1}} {
		m, err := bb.Load(t.Context(), &sdk.LoadRequest{Arch: "seq", Options: map[string]string{"batch_first": tc.batchFirst}})
		if err != nil {
			t.Fatal(err)
		}
		d, ok := m.(sdk.InputDescriber)
		if !ok {
			t.Fatalf("model %T does not implement sdk.InputDescriber", m)
		}
		in := d.Input()
		if in.BatchAxis != tc.axis || in.DType != sdk.Float32 || len(in.Shape) != 3 {
			t.Errorf("batch_first=%s: Input() = %+v; want batch axis %d of a float32 [*, *, 4]", tc.batchFirst, in, tc.axis)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

package backbone

import (
	"errors"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// TestImage checks Image's input, default layer and that one graph
// serves every size, and that a size too small is a build error.
func TestImage(t *testing.T) {
	n := &Image{Kind: "Tiny", Output: "fc", Forward: func(b *nn.Builder, x nn.Value) {
		x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Stride: nn.P(2)})
		x = b.AdaptiveAvgPool2d("pool", x, nn.P(1))
		b.Linear("fc", b.Flatten("", x), 4, 2, true)
	}}
	var _ Net = n
	if !sdk.EqualShape(n.Input().Shape, []int64{-1, 3, -1, -1}) || !sdk.EqualShape(n.DefaultInput(), ImageInput.Shape) || n.DefaultLayer() != "fc" {
		t.Errorf("Image: input %v, default %v, layer %s", n.Input(), n.DefaultInput(), n.DefaultLayer())
	}
	var keys []string
	for _, in := range [][]int64{n.DefaultInput(), {-1, 3, 31, 17}} {
		b := n.Build(in)
		if b.Kind() != "Tiny" || b.Err() != nil {
			t.Fatalf("Build(%v): kind %s, %v", in, b.Kind(), b.Err())
		}
		k, err := b.GraphKey([]string{"fc"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if keys[0] != keys[1] {
		t.Error("Build(224x224) and Build(31x17) make two graphs; want one for every size")
	}
	if err := n.Build([]int64{-1, 3, 2, 2}).Err(); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Build(2x2) = %v; want a build error (sdk.ErrBadInput)", err)
	}
}

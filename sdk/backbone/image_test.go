package backbone

import (
	"errors"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

func TestCheckImage(t *testing.T) {
	for _, tc := range []struct {
		shape []int64
		free  bool
		ok    bool
	}{
		{[]int64{2, 3, 32, 40}, false, true},
		{[]int64{-1, 3, 32, 32}, true, true},
		{[]int64{-1, 3, 32, 32}, false, false},
		{[]int64{1, 3, 31, 64}, false, false},
		{[]int64{1, 1, 64, 64}, false, false},
		{[]int64{3, 64, 64}, false, false},
	} {
		err := CheckImage("net", tc.shape, tc.free, 32, "why")
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, sdk.ErrBadInput) {
			t.Errorf("CheckImage(%v, free %v) = %v; want ok %v or sdk.ErrBadInput", tc.shape, tc.free, err, tc.ok)
		}
	}
}

func TestInferClasses(t *testing.T) {
	f := InferClasses("head.weight")
	got, err := f(map[string]*sdk.Tensor{"head.weight": {Shape: []int64{7, 16}}})
	if err != nil || got["num_classes"] != "7" {
		t.Errorf("InferClasses = %v, %v; want num_classes 7", got, err)
	}
	if got, _ := f(map[string]*sdk.Tensor{"head.bias": {Shape: []int64{7}}}); len(got) != 0 {
		t.Errorf("InferClasses without head.weight = %v; want nothing", got)
	}
}

func TestImage(t *testing.T) {
	n := Image{H: 299, W: 320, Layer: "fc"}
	if in := n.Input(); !sdk.EqualShape(in.Shape, []int64{-1, 3, -1, -1}) || in.DType != sdk.Float32 || in.BatchAxis != 0 {
		t.Errorf("Input() = %+v; want [-1 3 -1 -1] float32, batch first", in)
	}
	if got := n.DefaultInput(); !sdk.EqualShape(got, []int64{-1, 3, 299, 320}) || n.DefaultLayer() != "fc" {
		t.Errorf("DefaultInput(), DefaultLayer() = %v, %s; want [-1 3 299 320], fc", got, n.DefaultLayer())
	}
}

func TestNumClasses(t *testing.T) {
	a := &Arch{Name: "net", Options: []Option{NumClasses("head")}}
	o, err := NewOptions(a, nil)
	if err != nil || o.Int("num_classes") != 1000 || !strings.Contains(a.Options[0].Usage, "head") {
		t.Errorf("NumClasses default = %v, %v; want 1000", o.Values(), err)
	}
	if _, err := NewOptions(a, map[string]string{"num_classes": "0"}); !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("num_classes=0: %v; want ErrBadOption", err)
	}
}

// TestImageModel checks ImageModel's input, default layer and input check, and
// that one graph serves every size.
func TestImageModel(t *testing.T) {
	n := &ImageModel{Arch: "tiny", Kind: "Tiny", Output: "fc", MinSize: 5, Forward: func(b *nn.Builder, x nn.Value) {
		x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Stride: nn.P(2)})
		x = b.AdaptiveAvgPool2d("pool", x, nn.P(1))
		b.Linear("fc", b.Flatten("", x), 4, 2, true)
	}}
	var _ InputChecker = n
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
	if err := n.CheckInput([]int64{1, 3, 5, 9}, false); err != nil {
		t.Errorf("CheckInput(5x9) = %v; want nil", err)
	}
	if err := n.CheckInput([]int64{1, 3, 4, 9}, false); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "at least 5") {
		t.Errorf("CheckInput(4x9) = %v; want sdk.ErrBadInput naming the minimum 5", err)
	}
}

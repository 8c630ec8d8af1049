package quant

import (
	"testing"

	"github.com/gozoo/gozoo/sdk/nn"
)

// FuzzPrepare feeds arbitrary bytes as an ONNX model: Prepare and
// FoldBatchNorm may refuse them, never panic.
func FuzzPrepare(f *testing.F) {
	b := nn.NewBuilder("Tiny")
	x := b.Input("input", []int64{-1, 3, 8, 8}, 0)
	x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Padding: nn.P(1)})
	x = b.BatchNorm2d("bn", x, 4)
	x = b.ReLU("relu", x)
	y := b.MaxPool2d("pool", x, nn.Pool{Kernel: nn.P(2)})
	z := b.Add("", y, y)
	z = b.AdaptiveAvgPool2d("avgpool", z, nn.P(1))
	b.Linear("fc", b.Flatten("", z), 4, 2, true)
	model, err := b.ONNX(nn.RandomWeights(b.Specs(), 1), []string{"fc"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(model)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		FoldBatchNorm(data)
		q, err := Prepare(data, Options{KeepFP32: []string{"fc"}})
		if err != nil {
			return
		}
		// Model without calibration statistics must refuse, not panic.
		q.Model()
		g, err := parse(q.Float())
		if err != nil {
			t.Fatalf("Prepare's float model does not parse: %v", err)
		}
		g.makePlan(nil, q.folded)
	})
}

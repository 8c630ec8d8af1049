package quant_test

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/quant"
)

// tiny builds conv -> batch norm -> relu -> global pool -> fc with
// seeded weights.
func tiny() []byte {
	b := nn.NewBuilder("Tiny")
	x := b.Input("input", []int64{-1, 3, 8, 8}, 0)
	x = b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Padding: nn.P(1)})
	x = b.BatchNorm2d("bn", x, 4)
	x = b.ReLU("relu", x)
	x = b.AdaptiveAvgPool2d("pool", x, nn.P(1))
	b.Linear("fc", b.Flatten("", x), 4, 2, true)
	model, err := b.ONNX(nn.RandomWeights(b.Specs(), 1), []string{"pool", "fc"})
	if err != nil {
		panic(err)
	}
	return model
}

func Example() {
	q, err := quant.Prepare(tiny(), quant.Options{Method: quant.MinMax})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := sdk.Zeros(2, 3, 8, 8)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%7) - 3
	}
	if err := q.Calibrate(context.Background(), []*sdk.Tensor{x}); err != nil {
		fmt.Println(err)
		return
	}
	int8, err := q.Model()
	if err != nil {
		fmt.Println(err)
		return
	}
	s := q.Summary()
	fmt.Println("batch norms folded:", s.Folded)
	fmt.Println("quantized:", quant.FormatOps(s.Quantized))
	diffs, err := quant.Compare(context.Background(), q.Float(), int8, q.Input(), []*sdk.Tensor{x}, []string{"pool"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("pool: cosine to float above 0.99: %v\n", diffs[0].CosineMin > 0.99)
	// Output:
	// batch norms folded: 1
	// quantized: Conv 1, Flatten 1, Gemm 1, GlobalAveragePool 1
	// pool: cosine to float above 0.99: true
}

func ExampleFoldBatchNorm() {
	model := tiny()
	folded, err := quant.FoldBatchNorm(model)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := sdk.Zeros(1, 3, 8, 8)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%5) / 5
	}
	diffs, err := quant.Compare(context.Background(), model, folded, "input", []*sdk.Tensor{x}, []string{"pool", "fc"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range diffs {
		fmt.Printf("%s: folded equals the original within 1e-5: %v\n", d.Layer, d.MaxRelDiff < 1e-5)
	}
	// Output:
	// pool: folded equals the original within 1e-5: true
	// fc: folded equals the original within 1e-5: true
}

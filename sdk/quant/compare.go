package quant

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// LayerDiff compares one layer's outputs of a float and a quantized
// model on the same inputs.
type LayerDiff struct {
	Layer string `json:"layer"`
	// CosineMean and CosineMin are the mean and the least cosine
	// similarity between the two models' outputs for one input (the
	// layer's values for one row, flattened).
	CosineMean float64 `json:"cosine_mean"`
	CosineMin  float64 `json:"cosine_min"`
	// MaxRelDiff is the largest absolute difference divided by the
	// largest magnitude of the float output, over all inputs.
	MaxRelDiff float64 `json:"max_rel_diff"`
	// Rows is the number of inputs compared.
	Rows int64 `json:"rows"`
}

// Compare runs both models on each input batch and compares their
// outputs for each layer (graph outputs of both). Sessions take opts.
func Compare(ctx context.Context, float, quantized []byte, input string, batches []*sdk.Tensor, layers []string, opts ...ort.Option) ([]LayerDiff, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("quant: compare: %w: no inputs", sdk.ErrBadInput)
	}
	run := func(model []byte) ([]map[string]*sdk.Tensor, error) {
		s, err := ort.NewSession(model, append(slices.Clone(opts), ort.WithOutputSubsets(false))...)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		var outs []map[string]*sdk.Tensor
		for _, b := range batches {
			out, err := s.Run(ctx, map[string]*sdk.Tensor{input: b}, layers)
			if err != nil {
				return nil, err
			}
			outs = append(outs, out)
		}
		return outs, nil
	}
	fo, err := run(float)
	if err != nil {
		return nil, fmt.Errorf("quant: compare: float model: %w", err)
	}
	qo, err := run(quantized)
	if err != nil {
		return nil, fmt.Errorf("quant: compare: quantized model: %w", err)
	}
	var diffs []LayerDiff
	for _, l := range layers {
		d := LayerDiff{Layer: l, CosineMin: 1}
		var top, worst, sum float64
		for i := range batches {
			a, b := fo[i][l], qo[i][l]
			if a == nil || b == nil || len(a.Float32) != len(b.Float32) || len(a.Shape) == 0 {
				return nil, fmt.Errorf("quant: compare: layer %s: the models' outputs differ in shape", l)
			}
			rows := a.Shape[0]
			per := int64(len(a.Float32)) / max(rows, 1)
			for r := int64(0); r < rows; r++ {
				c := cosine(a.Float32[r*per:(r+1)*per], b.Float32[r*per:(r+1)*per])
				sum += c
				d.CosineMin = math.Min(d.CosineMin, c)
			}
			d.Rows += rows
			for j, x := range a.Float32 {
				top = math.Max(top, math.Abs(float64(x)))
				worst = math.Max(worst, math.Abs(float64(x)-float64(b.Float32[j])))
			}
		}
		if d.Rows > 0 {
			d.CosineMean = sum / float64(d.Rows)
		}
		if top > 0 {
			d.MaxRelDiff = worst / top
		}
		diffs = append(diffs, d)
	}
	return diffs, nil
}

// cosine is the cosine similarity of a and b: 1 for two zero vectors,
// 0 when only one is zero.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	switch {
	case aa == 0 && bb == 0:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// readAndRemove reads a file and removes it.
func readAndRemove(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("quant: %w", err)
	}
	return data, os.Remove(path)
}

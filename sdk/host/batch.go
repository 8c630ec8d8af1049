package host

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/sdk"
)

// ExtractBatches runs req over req.Input in batches of batchSize rows and
// joins the outputs along the first dimension, so the result equals one
// Extract over all rows. Lengths, when given, are split with the rows.
// progress, when not nil, is called after each batch with the rows done and
// the total. A plugin crash inside a batch is recovered as Extract does,
// so a long run survives it.
func ExtractBatches(ctx context.Context, m sdk.Model, req *sdk.ExtractRequest, batchSize int, progress func(done, total int)) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("%w: extract needs an input tensor", sdk.ErrBadInput)
	}
	if batchSize <= 0 {
		return nil, fmt.Errorf("%w: batch size %d: want 1 or more", sdk.ErrBadOption, batchSize)
	}
	if err := req.Input.Validate(); err != nil {
		return nil, err
	}
	if len(req.Input.Shape) == 0 {
		return nil, fmt.Errorf("%w: input is a scalar; want a batch of rows", sdk.ErrBadInput)
	}
	total := req.Input.Shape[0]
	if req.Lengths != nil && int64(len(req.Lengths)) != total {
		return nil, fmt.Errorf("%w: %d lengths for %d rows", sdk.ErrBadInput, len(req.Lengths), total)
	}
	for name, t := range req.Inputs {
		if t == nil || t.Validate() != nil || len(t.Shape) == 0 || t.Shape[0] != total {
			shape := "none"
			if t != nil {
				shape = t.DType().String() + sdk.FormatShape(t.Shape)
			}
			return nil, fmt.Errorf("%w: input %q is %s; want %d rows, as the first input has", sdk.ErrBadInput, name, shape, total)
		}
	}
	parts := map[string][]*sdk.Tensor{}
	var names []string
	for i := int64(0); i < total; i += int64(batchSize) {
		j := min(i+int64(batchSize), total)
		x, err := req.Input.Rows(i, j)
		if err != nil {
			return nil, err
		}
		br := &sdk.ExtractRequest{Layers: req.Layers, Input: x}
		if req.Lengths != nil {
			br.Lengths = req.Lengths[i:j]
		}
		for name, t := range req.Inputs {
			if br.Inputs == nil {
				br.Inputs = map[string]*sdk.Tensor{}
			}
			if br.Inputs[name], err = t.Rows(i, j); err != nil {
				return nil, err
			}
		}
		resp, err := m.Extract(ctx, br)
		if err != nil {
			return nil, fmt.Errorf("extract rows %d-%d of %d: %w", i, j, total, err)
		}
		if i == 0 {
			for name := range resp.Outputs {
				names = append(names, name)
			}
		}
		if len(resp.Outputs) != len(names) {
			return nil, fmt.Errorf("%w: batch at row %d returned %d outputs, the first batch %d", sdk.ErrBadInput, i, len(resp.Outputs), len(names))
		}
		for _, name := range names {
			t, ok := resp.Outputs[name]
			if !ok {
				return nil, fmt.Errorf("%w: batch at row %d lacks output %q", sdk.ErrBadInput, i, name)
			}
			parts[name] = append(parts[name], t)
		}
		if progress != nil {
			progress(int(j), int(total))
		}
	}
	out := &sdk.ExtractResponse{Outputs: map[string]*sdk.Tensor{}}
	if total == 0 {
		resp, err := m.Extract(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	for _, name := range names {
		t, err := sdk.Concat(parts[name])
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		out.Outputs[name] = t
	}
	return out, nil
}

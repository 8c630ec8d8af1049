package dataset

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// Batch is a batch of decoded and transformed samples in dataset order.
type Batch struct {
	// Start is the position of Samples[0] in the dataset's Samples.
	Start   int
	Samples []Sample
	// X holds len(Samples) rows of Transform.Len() float32 values (CHW);
	// a row whose Errs entry is non-nil is unused.
	X    []float32
	Errs []error
}

// Load decodes d.Samples[start:] on workers goroutines, batchSize at a
// time, and sends the batches in order; up to two batches are decoded
// ahead of the consumer, so that decoding overlaps the consumer's work.
// The channel closes after the last batch or when ctx is done. Errors name
// the sample's path. Decoding holds memory from imageproc.DefaultBudget.
func Load(ctx context.Context, d *Dataset, tf imageproc.Transform, start, batchSize, workers int) <-chan *Batch {
	return LoadWithin(ctx, d, tf, start, batchSize, workers, imageproc.DefaultBudget())
}

// LoadWithin is Load with the memory of the images being decoded at once
// bounded by budget (see imageproc.Budget), whatever the number of
// workers; an image over the whole budget is an error matching
// imageproc.ErrOverBudget in its batch's Errs.
func LoadWithin(ctx context.Context, d *Dataset, tf imageproc.Transform, start, batchSize, workers int, budget *imageproc.Budget) <-chan *Batch {
	out := make(chan *Batch, 2)
	workers = max(1, workers)
	per := tf.Len()
	go func() {
		defer close(out)
		sem := make(chan struct{}, workers)
		for pos := start; pos < len(d.Samples); pos += batchSize {
			end := min(pos+batchSize, len(d.Samples))
			b := &Batch{Start: pos, Samples: d.Samples[pos:end], X: make([]float32, (end-pos)*per), Errs: make([]error, end-pos)}
			var wg sync.WaitGroup
			for i := range b.Samples {
				sem <- struct{}{}
				wg.Add(1)
				go func(i int) {
					defer func() { <-sem; wg.Done() }()
					b.Errs[i] = decodeInto(ctx, b.Samples[i], tf, b.X[i*per:(i+1)*per], budget)
				}(i)
			}
			wg.Wait()
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// decodeInto decodes one sample into dst within budget; errors name the
// path.
func decodeInto(ctx context.Context, s Sample, tf imageproc.Transform, dst []float32, budget *imageproc.Budget) error {
	img, release, err := s.decode(ctx, budget)
	defer release()
	if err != nil {
		if !strings.Contains(err.Error(), s.Path) {
			err = fmt.Errorf("%s: %w", s.Path, err)
		}
		return err
	}
	if err := tf.Apply(img, dst); err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	return nil
}

// Tensor decodes every sample of d with tf into one [N, 3, CropH, CropW]
// tensor, with the samples' labels, decoding on workers goroutines. The
// first image that fails is an error naming its path. It suits datasets
// that fit in memory, such as a fine-tuning set.
func Tensor(ctx context.Context, d *Dataset, tf imageproc.Transform, workers int) (*sdk.Tensor, []int64, error) {
	if err := tf.Validate(); err != nil {
		return nil, nil, err
	}
	n := len(d.Samples)
	per := tf.Len()
	x := make([]float32, 0, n*per)
	labels := make([]int64, 0, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range Load(ctx, d, tf, 0, 64, workers) {
		for i, err := range b.Errs {
			if err != nil {
				return nil, nil, err
			}
			labels = append(labels, b.Samples[i].Label)
		}
		x = append(x, b.X...)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if len(labels) != n {
		return nil, nil, fmt.Errorf("dataset: decoded %d of %d images", len(labels), n)
	}
	return &sdk.Tensor{Shape: append([]int64{int64(n)}, tf.Shape()...), Float32: x}, labels, nil
}

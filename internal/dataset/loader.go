package dataset

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
// the sample's path.
func Load(ctx context.Context, d *Dataset, tf imageproc.Transform, start, batchSize, workers int) <-chan *Batch {
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
					b.Errs[i] = decodeInto(b.Samples[i], tf, b.X[i*per:(i+1)*per])
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

// decodeInto decodes one sample into dst; errors name the path.
func decodeInto(s Sample, tf imageproc.Transform, dst []float32) error {
	img, err := s.Decode()
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

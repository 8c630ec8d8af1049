package cli

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand"
	"sync"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// imageSet is a training set held in memory as decoded images, so that
// every epoch augments them afresh.
type imageSet struct {
	Classes []string
	Images  []*imageproc.RGB
	Labels  []int64
}

// decodeImages decodes every sample of d on workers goroutines.
func decodeImages(ctx context.Context, d *dataset.Dataset, workers int) (*imageSet, error) {
	s := &imageSet{Classes: d.Classes, Images: make([]*imageproc.RGB, len(d.Samples)), Labels: make([]int64, len(d.Samples))}
	errs := make([]error, len(d.Samples))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s.Images[i], errs[i] = d.Samples[i].Decode()
			}
		}()
	}
	for i, smp := range d.Samples {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		s.Labels[i] = smp.Label
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w (remove or replace the file)", d.Samples[i].Path, err)
		}
	}
	return s, nil
}

// augmentSeed is the seed of image i's augmentation in epoch: a hash of
// the run's seed, the epoch and the image's index, so that a run is the
// same whatever the number of workers.
func augmentSeed(seed int64, epoch, i int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", seed, epoch, i)
	return int64(h.Sum64() &^ (1 << 63))
}

// augmentBatch builds the training batch of the images idx in epoch on
// workers goroutines: each image gets its own parameters drawn from
// augmentSeed, then the train transform.
func augmentBatch(set *imageSet, idx []int, tf imageproc.Transform, aug imageproc.Augment, seed int64, epoch, workers int) (sdk.TrainBatch, error) {
	per := tf.Len()
	x := make([]float32, len(idx)*per)
	labels := make([]int64, len(idx))
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, workers))
	for k, i := range idx {
		labels[k] = set.Labels[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			img := set.Images[i]
			p := aug.Sample(rand.New(rand.NewSource(augmentSeed(seed, epoch, i))), img.W, img.H)
			errs[k] = tf.ApplyAugmented(img, p, x[k*per:(k+1)*per])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return sdk.TrainBatch{}, err
		}
	}
	shape := append([]int64{int64(len(idx))}, tf.Shape()...)
	return sdk.TrainBatch{Input: &sdk.Tensor{Shape: shape, Float32: x}, Labels: labels}, nil
}

// trainBatches streams epochs (numbered from first) of shuffled,
// augmented training batches, each epoch followed by the validation
// batches (eval transform), until ctx ends or a batch fails; the error
// then goes to errc (buffered) and the stream ends.
func trainBatches(ctx context.Context, train *imageSet, val *labelled, tf imageproc.Transform, aug imageproc.Augment,
	size int, seed int64, first, workers int, errc chan<- error) <-chan sdk.TrainBatch {
	ch := make(chan sdk.TrainBatch, 2)
	go func() {
		defer close(ch)
		send := func(b sdk.TrainBatch) bool {
			select {
			case ch <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		nval := 0
		if val != nil {
			nval = len(val.Labels)
		}
		// One shuffling stream for the run; a resumed run skips the
		// epochs already done, so it shuffles as the whole run would.
		shuffle := rand.New(rand.NewSource(seed))
		for e := 1; e < first; e++ {
			shuffle.Perm(len(train.Labels))
		}
		for epoch := first; ; epoch++ {
			order := shuffle.Perm(len(train.Labels))
			for i := 0; i < len(order); i += size {
				b, err := augmentBatch(train, order[i:min(i+size, len(order))], tf, aug, seed, epoch, workers)
				if err != nil {
					errc <- err
					return
				}
				b.EndOfEpoch = nval == 0 && i+size >= len(order)
				if !send(b) {
					return
				}
			}
			for i := 0; i < nval; i += size {
				idx := make([]int, 0, size)
				for j := i; j < min(i+size, nval); j++ {
					idx = append(idx, j)
				}
				b := pick(val, idx)
				b.Validation, b.EndOfEpoch = true, i+size >= nval
				if !send(b) {
					return
				}
			}
		}
	}()
	return ch
}

// Package dataset lists and decodes images exactly as gozoo extract does:
// the same list-file rules, the same order of a folder's files, the same
// decoding (imageproc, with a memory budget) and preprocessing, batch by
// batch with errors that name the image. It is the public face of
// gozoo's internal dataset package for programs outside this module, such
// as gozoo-beam, so that their rows equal gozoo extract's; it adds no code
// of its own.
//
//	ds, err := dataset.OpenKind("list.txt", "list")
//	for b := range dataset.LoadWithin(ctx, ds, tf, 0, 64, 4, imageproc.NewBudget(2<<30)) {
//		// b.X holds len(b.Samples) preprocessed rows; b.Errs[i] names a bad image
//	}
package dataset

import (
	"context"
	"io"

	internal "github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// ErrEmpty reports a dataset with no images.
var ErrEmpty = internal.ErrEmpty

type (
	// Dataset is an ordered list of samples (see OpenKind).
	Dataset = internal.Dataset
	// Sample is one image of a dataset: its position, path and label (-1
	// without labels).
	Sample = internal.Sample
	// Batch is a batch of decoded and preprocessed samples in order.
	Batch = internal.Batch
)

// OpenKind opens path as a dataset of the given kind: folder,
// imagefolder, list, idx or auto, as gozoo extract's --dataset.
func OpenKind(path, kind string) (*Dataset, error) { return internal.OpenKind(path, kind) }

// ParseList reads a list of images (PATH or PATH<TAB>LABEL a line) from r
// as gozoo extract reads a list file named path; resolve turns each path
// as written into the sample's path.
func ParseList(r io.Reader, path string, resolve func(string) string) (*Dataset, error) {
	return internal.ParseList(r, path, resolve)
}

// SortPaths sorts paths in the order gozoo extract (and torchvision's
// ImageFolder) reads a folder's files.
func SortPaths(paths []string) { internal.SortPaths(paths) }

// IsImage reports whether name has an image extension gozoo extract reads
// from a folder (.jpg, .jpeg, .png, .bmp, .webp, .gif, any case).
func IsImage(name string) bool { return internal.IsImage(name) }

// LoadWithin decodes d.Samples[start:] on workers goroutines, batchSize
// at a time, preprocessing each image with tf, and sends the batches in
// order; the memory of images being decoded at once is bounded by budget.
// A sample that fails has its error, naming its path, in the batch's
// Errs. The channel closes after the last batch or when ctx is done.
func LoadWithin(ctx context.Context, d *Dataset, tf imageproc.Transform, start, batchSize, workers int, budget *imageproc.Budget) <-chan *Batch {
	return internal.LoadWithin(ctx, d, tf, start, batchSize, workers, budget)
}

// Package imagefolder reads a labelled image tree laid out as torchvision's
// ImageFolder expects (ROOT/CLASS/IMAGE, classes sorted by name) into
// float32 [N, 3, H, W] tensors and int64 labels, for gozoo finetune.
//
//	ds, err := imagefolder.Load("data/train", imagefolder.Options{Height: 64, Width: 64})
//	// ds.Input is [N, 3, 64, 64], ds.Labels[i] indexes ds.Classes.
//
// Images (PNG, JPEG, GIF) are converted to RGB, resized with bilinear
// interpolation (half-pixel centres, as torch's interpolate without
// antialiasing) and normalised by the per-channel mean and standard
// deviation (ImageNet's by default). The whole tree is held in memory,
// which suits the few thousand images of a fine-tuning set.
package imagefolder

// Package zoo is gozoo's model catalog and weights cache.
//
// A Catalog maps model names such as "resnet50.tv_in1k" to an Entry: the
// plugin and arch that run it, their options, where its weights come from
// (a URL, a local path or a file embedded in gozoo) with a checksum, its
// preprocessing (resize, crop, interpolation, mean, std), its licence, its
// default feature layer and its recorded metrics. Default returns the
// catalog embedded in gozoo (torchvision's ImageNet weights for every
// first-party arch, and gozoo's own small Fashion-MNIST model, whose
// weights are embedded); Merge adds user catalogs (by convention
// ~/.config/gozoo/zoo.yaml, see UserCatalogPath), later entries replacing
// earlier ones of the same name.
//
// A Cache holds downloaded weights under a directory (DefaultCacheDir:
// $GOZOO_CACHE or ~/.cache/gozoo, in weights/). Fetch downloads with
// progress reports, resumes a partial download with an HTTP Range request,
// verifies the sha256 (or torchvision's hash prefix) before a file is used
// or enters the cache, renames into place atomically, and holds a file
// lock so that processes pulling the same weights do not corrupt them. In
// offline mode Fetch uses only what is cached and says how to fill it.
//
//	cat, err := zoo.Default()
//	e, err := cat.Lookup("resnet50.tv_in1k")
//	cache, err := zoo.OpenCache(zoo.DefaultCacheDir())
//	path, err := cache.Fetch(ctx, e)
//
// An entry names its classes (classes, or class_set: imagenet1k for
// torchvision's ImageNet-1k names, fashion_mnist for Fashion-MNIST's; see
// ClassSet). A ModelCard carries the same metadata beside a checkpoint
// (X.pth -> X.gozoo.json, CardPath): arch, options, classes, eval
// transform, the weights' sha256 and, for fine-tuned checkpoints, the
// training record. WriteCard writes one; ReadCard finds and checks the card
// of a weights file, so that a checkpoint extracts and evaluates with the
// transform and classes it was trained with.
//
//	card, err := zoo.ReadCard("runs/ft/best.pth") // nil, nil without a card
//
// Catalog and Cache are safe for concurrent use once built.
package zoo

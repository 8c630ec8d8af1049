// Package imageproc decodes images and turns them into model inputs the
// way torchvision does on PIL images, so that features computed in Go do
// not drift from those computed in PyTorch.
//
// Decode reads JPEG, PNG, GIF (first frame), BMP and WebP, applies the EXIF
// orientation of JPEGs, and converts grayscale, palette, CMYK and alpha
// images to 8-bit RGB with PIL's rules (alpha is dropped, not composited;
// CMYK uses PIL's formula). JPEGs are decoded by the system libjpeg
// (libjpeg-turbo, through cgo: the package needs a C compiler and
// libjpeg62-turbo-dev) with PIL's settings (integer IDCT, "fancy" chroma
// upsampling, 4-component JPEGs read as Adobe-inverted CMYK), so their
// pixels equal those of PIL on the same library. A truncated JPEG, or one
// whose entropy-coded data is damaged, is an ErrCorrupt error, not an image
// filled with gray.
//
// A Transform is torchvision's eval transform: Resize of the shorter side
// (PIL's bilinear or bicubic filter with antialiasing, in 8-bit fixed point
// with the horizontal pass first, exactly as PIL's Resample.c), CenterCrop
// (torchvision's rounding), ToTensor and Normalize. Its output is float32
// CHW. Transforms are plain values, safe for concurrent use.
//
//	img, err := imageproc.DecodeFile("cat.jpg")
//	t := imageproc.ImageNet() // Resize 256 bilinear, CenterCrop 224, ImageNet mean/std
//	x := make([]float32, t.Len())
//	err = t.Apply(img, x)
//
// An Augment is torchvision's train-time augmentation on PIL images, in
// its usual order: RandomResizedCrop (or the eval Resize + CenterCrop),
// RandomHorizontalFlip, RandomRotation (PIL's nearest-neighbour rotate)
// and ColorJitter (PIL's ImageEnhance blends and 8-bit HSV hue shift).
// Sample draws one image's parameters from a seeded rng with
// torchvision's procedures; ApplyAugmented applies them, with pixels equal
// to torchvision 0.14's on Pillow for the same parameters.
//
//	aug, err := imageproc.ParseAugment("crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1")
//	rng := rand.New(rand.NewSource(seed)) // one per goroutine
//	err = t.ApplyAugmented(img, aug.Sample(rng, img.W, img.H), x)
//
// Known differences from PIL: 16-bit images keep their high byte where PIL
// clips; the first GIF frame is returned at its own bounds, not on the
// logical screen; lossy WebP uses x/image's upsampling, not libwebp's. torchvision's ImageFolder loader ignores EXIF
// orientation; Decode applies it.
package imageproc

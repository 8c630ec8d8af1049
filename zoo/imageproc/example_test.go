package imageproc_test

import (
	"fmt"
	"math/rand"

	"github.com/gozoo/gozoo/zoo/imageproc"
)

func ExampleTransform_Load() {
	tf := imageproc.ImageNet() // Resize 256 bilinear, CenterCrop 224, ImageNet mean/std
	x := make([]float32, tf.Len())
	if err := tf.Load("testdata/tiny.jpg", x); err != nil {
		panic(err)
	}
	fmt.Println(tf.Shape(), len(x))
	// Output: [3 224 224] 150528
}

func ExampleParseAugment() {
	a, err := imageproc.ParseAugment("crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1")
	if err != nil {
		panic(err)
	}
	fmt.Println(a)
	fmt.Println(imageproc.DefaultAugment())
	_, err = imageproc.ParseAugment("crop=0.08-1,flp=0.5")
	fmt.Println(err)
	// Output:
	// crop=0.08-1,ratio=0.75-1.3333333333333333,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1
	// crop=0.08-1,ratio=0.75-1.3333333333333333,flip=0.5
	// imageproc: augment "crop=0.08-1,flp=0.5": unknown key "flp"; did you mean flip? (keys: crop, ratio, flip, rotate, jitter, brightness, contrast, saturation, hue; or the whole spec none or default)
}

func ExampleTransform_ApplyAugmented() {
	img, err := imageproc.DecodeFile("testdata/tiny.jpg") // 45x30
	if err != nil {
		panic(err)
	}
	tf := imageproc.ImageNet()
	aug := imageproc.DefaultAugment()
	rng := rand.New(rand.NewSource(1)) // one seeded rng per data loader
	p := aug.Sample(rng, img.W, img.H)
	x := make([]float32, tf.Len())
	if err := tf.ApplyAugmented(img, p, x); err != nil {
		panic(err)
	}
	fmt.Printf("crop %dx%d at (%d, %d), flip %v -> %v\n", p.CropW, p.CropH, p.CropX, p.CropY, p.Flip, tf.Shape())
	// Output: crop 33x26 at (1, 2), flip true -> [3 224 224]
}

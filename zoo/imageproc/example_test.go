package imageproc_test

import (
	"fmt"

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

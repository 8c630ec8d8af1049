package zoo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gozoo/gozoo/zoo"
)

func ExampleCatalog_Lookup() {
	cat, err := zoo.Default()
	if err != nil {
		panic(err)
	}
	e, err := cat.Lookup("resnet50.tv_in1k")
	if err != nil {
		panic(err)
	}
	tf, _ := e.Preprocess.Transform()
	fmt.Println(e.Plugin, e.Arch, e.Layer, e.Weights.HashPrefix)
	fmt.Println(tf.ResizeSize, tf.CropH, tf.Interp)
	// Output:
	// resnet resnet50 avgpool 0676ba61
	// 256 224 bilinear
}

func ExampleCache_Fetch() {
	cat, err := zoo.Default()
	if err != nil {
		panic(err)
	}
	e, err := cat.Lookup(zoo.DefaultModel) // weights embedded in gozoo
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "gozoo-cache-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cache, err := zoo.OpenCache(dir, zoo.WithOffline(true))
	if err != nil {
		panic(err)
	}
	path, err := cache.Fetch(context.Background(), e) // verified before use
	if err != nil {
		panic(err)
	}
	fmt.Println(filepath.Base(path), e.Arch, e.Options["width"])
	// Output: resnet18_w8_fmnist.pth resnet18 8
}

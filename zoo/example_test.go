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

func ExampleReadCard() {
	dir, _ := os.MkdirTemp("", "card")
	defer os.RemoveAll(dir)
	weights := filepath.Join(dir, "best.pth")
	os.WriteFile(weights, []byte("state_dict bytes"), 0o644)
	card := &zoo.ModelCard{Arch: "resnet18", Options: map[string]string{"num_classes": "2"},
		Classes: []string{"cat", "dog"}, Preprocess: zoo.ImageNetPreprocess()}
	if err := zoo.WriteCard(weights, card); err != nil {
		panic(err)
	}
	got, err := zoo.ReadCard(weights)
	if err != nil {
		panic(err)
	}
	fmt.Println(filepath.Base(zoo.CardPath(weights)), got.Arch, got.Classes, got.Preprocess)
	// Output:
	// best.gozoo.json resnet18 [cat dog] Resize(256, bilinear) CenterCrop(224) Normalize(mean=[0.485 0.456 0.406], std=[0.229 0.224 0.225])
}

func ExampleClassSet() {
	names, err := zoo.ClassSet(zoo.ClassSetImageNet1k)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(names), names[0], names[999])
	// Output:
	// 1000 tench toilet tissue
}

package quant_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/quant"
	"github.com/gozoo/gozoo/zoo"
)

const fashionDir = "/usr/share/datasets/fashion-mnist/"

// fashion returns the first n images of a Fashion-MNIST split (all when
// n is 0), preprocessed by the embedded model's transform, and their
// labels.
func fashion(t *testing.T, split string, n int, e *zoo.Entry) (*sdk.Tensor, []int64) {
	t.Helper()
	path := fashionDir + split + "-images-idx3-ubyte.gz"
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup does)")
	}
	ds, err := dataset.OpenKind(path, "idx")
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		ds.Samples = ds.Samples[:n]
	}
	tf, err := e.Preprocess.Transform()
	if err != nil {
		t.Fatal(err)
	}
	x, labels, err := dataset.Tensor(context.Background(), ds, tf, 2)
	if err != nil {
		t.Fatal(err)
	}
	return x, labels
}

// batches splits x into batches of at most n rows.
func batches(t *testing.T, x *sdk.Tensor, n int64) []*sdk.Tensor {
	t.Helper()
	var out []*sdk.Tensor
	for i := int64(0); i < x.Shape[0]; i += n {
		b, err := x.Rows(i, min(i+n, x.Shape[0]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFashionMNISTAccuracy quantizes the embedded model (a ResNet-18 of
// width 8 that gozoo trained on Fashion-MNIST), calibrated on 512 images
// of the training split, and checks on the whole test split (10,000
// images) that top-1 accuracy drops by at most half a point and that
// avgpool keeps a mean cosine of at least 0.999 to the float model.
func TestFashionMNISTAccuracy(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	cat, err := zoo.Default()
	if err != nil {
		t.Fatal(err)
	}
	e, err := cat.Lookup(zoo.DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := zoo.OpenCache(t.TempDir(), zoo.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	weights, err := cache.Fetch(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	calib, _ := fashion(t, "train", 512, e)
	test, labels := fashion(t, "t10k", 0, e)
	model := export(t, &sdk.LoadRequest{Arch: e.Arch, Options: e.Options, WeightsPath: weights, Threads: 2}, "avgpool", "fc")
	testBatches := batches(t, test, 1000)

	// top1 returns the accuracy of model's fc over the test split and its
	// avgpool and fc outputs.
	top1 := func(model []byte) (float64, []map[string]*sdk.Tensor) {
		s, err := ort.NewSession(model, ort.WithThreads(2), ort.WithOutputSubsets(false))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var outs []map[string]*sdk.Tensor
		correct, i := 0, 0
		for _, b := range testBatches {
			out, err := s.Run(ctx, map[string]*sdk.Tensor{"input": b}, nil)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
			fc := out["fc"].Float32
			for r := 0; r < len(fc)/10; r++ {
				best := 0
				for c := 1; c < 10; c++ {
					if fc[10*r+c] > fc[10*r+best] {
						best = c
					}
				}
				if int64(best) == labels[i] {
					correct++
				}
				i++
			}
		}
		return float64(correct) / float64(len(labels)), outs
	}
	accFP32, ref := top1(model)
	t.Logf("fp32: top-1 %.4f on %d test images (the catalog records %.4f)", accFP32, len(labels), e.Metrics["fashion_mnist_test_accuracy"])
	for _, method := range quant.Methods {
		q, err := quant.Prepare(model, quant.Options{Method: method, Session: []ort.Option{ort.WithThreads(2)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Calibrate(ctx, batches(t, calib, 128)); err != nil {
			t.Fatal(err)
		}
		int8, err := q.Model()
		if err != nil {
			t.Fatal(err)
		}
		acc, outs := top1(int8)
		var sum, least float64 = 0, 1
		rows := 0
		for i := range outs {
			a, b := ref[i]["avgpool"], outs[i]["avgpool"]
			per := len(a.Float32) / int(a.Shape[0])
			for r := 0; r < int(a.Shape[0]); r++ {
				c := cos(a.Float32[r*per:(r+1)*per], b.Float32[r*per:(r+1)*per])
				sum += c
				least = math.Min(least, c)
				rows++
			}
		}
		mean := sum / float64(rows)
		t.Logf("int8 %s: top-1 %.4f (drop %.2f points), avgpool cosine mean %.5f min %.5f, %d -> %d bytes",
			method, acc, 100*(accFP32-acc), mean, least, len(model), len(int8))
		if accFP32-acc > 0.005 {
			t.Errorf("%s: top-1 %.4f, fp32 %.4f: drops %.2f points; want at most 0.5", method, acc, accFP32, 100*(accFP32-acc))
		}
		if mean < 0.999 {
			t.Errorf("%s: avgpool cosine mean %.5f; want >= 0.999", method, mean)
		}
	}
}

func cos(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 && bb == 0 {
		return 1
	}
	return ab / math.Sqrt(aa*bb)
}

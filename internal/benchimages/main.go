// Command benchimages measures gozoo's end-to-end image feature
// extraction in one run, at equal threads: a folder of JPEGs to resnet50
// avgpool features (decode + preprocess on goroutines while the plugin
// computes, as gozoo extract does), the same images as pre-decoded
// tensors (inference only), and torchvision's ImageFolder + DataLoader +
// PyTorch eager on the same images and weights. It prints images/s and
// the ratios end-to-end/tensor-only and end-to-end/PyTorch.
//
//	go run ./internal/benchimages -n 48 -batch 8 -threads 2
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

type config struct {
	pluginDir, python, work            string
	n, batch, threads, workers, passes int
}

func main() {
	var c config
	flag.StringVar(&c.pluginDir, "plugins", "bin/plugins", "plugin folder (make build fills it)")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "python with torch, torchvision and skimage")
	flag.StringVar(&c.work, "work", "", "folder for the JPEGs and weights (default: a temporary folder)")
	flag.IntVar(&c.n, "n", 48, "number of JPEGs")
	flag.IntVar(&c.batch, "batch", 8, "batch size")
	flag.IntVar(&c.threads, "threads", 2, "intra-op threads for both engines")
	flag.IntVar(&c.workers, "workers", runtime.NumCPU(), "decoding goroutines (gozoo) and DataLoader workers (PyTorch)")
	flag.IntVar(&c.passes, "passes", 2, "passes over the folder per engine")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "benchimages:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.work == "" {
		d, err := os.MkdirTemp("", "gozoo-benchimages-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.work = d
	}
	script, err := filepath.Abs(filepath.Join("internal", "benchimages", "torch_folder.py"))
	if err != nil {
		return err
	}
	weights := filepath.Join(c.work, "resnet50.pth")
	if out, err := exec.Command(c.python, script, "make", c.work, fmt.Sprint(c.n), weights).CombinedOutput(); err != nil {
		return fmt.Errorf("make inputs (make setup installs torch and python3-skimage): %v\n%s", err, out)
	}
	ds, err := dataset.Open(c.work) // ImageFolder: photos/
	if err != nil {
		return err
	}
	tf := imageproc.ImageNet()

	h, err := host.New(host.WithPluginPath(c.pluginDir))
	if err != nil {
		return err
	}
	defer h.Close()
	bb, err := h.Backbone(ctx, "resnet")
	if err != nil {
		return fmt.Errorf("start plugin (run make build first): %w", err)
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet50", WeightsPath: weights, Threads: c.threads})
	if err != nil {
		return err
	}
	defer m.Close()
	layers := []string{"avgpool"}
	extract := func(x []float32, n int) error {
		in, err := sdk.NewTensor([]int64{int64(n), 3, 224, 224}, x)
		if err != nil {
			return err
		}
		_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: layers, Input: in})
		return err
	}
	// Pre-decoded tensors, and a warm-up (session creation).
	var pre []*dataset.Batch
	for b := range dataset.Load(ctx, ds, tf, 0, c.batch, c.workers) {
		for _, err := range b.Errs {
			if err != nil {
				return err
			}
		}
		pre = append(pre, b)
	}
	if err := extract(pre[0].X, len(pre[0].Samples)); err != nil {
		return err
	}
	var e2e, tensor []float64
	for p := 0; p < c.passes; p++ {
		start := time.Now()
		for _, b := range pre {
			if err := extract(b.X, len(b.Samples)); err != nil {
				return err
			}
		}
		tensor = append(tensor, float64(len(ds.Samples))/time.Since(start).Seconds())

		start = time.Now()
		for b := range dataset.Load(ctx, ds, tf, 0, c.batch, c.workers) {
			for _, err := range b.Errs {
				if err != nil {
					return err
				}
			}
			if err := extract(b.X, len(b.Samples)); err != nil {
				return err
			}
		}
		e2e = append(e2e, float64(len(ds.Samples))/time.Since(start).Seconds())
	}
	out, err := exec.Command(c.python, script, "run", c.work, weights, "--threads", fmt.Sprint(c.threads),
		"--workers", fmt.Sprint(c.workers), "--batch", fmt.Sprint(c.batch), "--passes", fmt.Sprint(c.passes)).Output()
	if err != nil {
		return fmt.Errorf("PyTorch peer: %w", err)
	}
	var torch struct {
		ImagesPerSec float64 `json:"images_per_sec"`
		Torch        string  `json:"torch"`
	}
	if err := json.Unmarshal(out, &torch); err != nil {
		return fmt.Errorf("PyTorch peer printed %q: %w", out, err)
	}
	best := func(v []float64) float64 {
		m := 0.0
		for _, x := range v {
			m = max(m, x)
		}
		return m
	}
	ee, tt := best(e2e), best(tensor)
	fmt.Printf("resnet50 avgpool from %d JPEGs (300-640 px), batch %d, %d threads, %d decode workers, %s/%s, %d cores\n",
		len(ds.Samples), c.batch, c.threads, c.workers, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("  %-34s %8.1f images/s  (passes %.1f)\n", "gozoo end-to-end (JPEG -> features)", ee, e2e)
	fmt.Printf("  %-34s %8.1f images/s  (passes %.1f)\n", "gozoo pre-decoded tensors", tt, tensor)
	fmt.Printf("  %-34s %8.1f images/s  (torch %s)\n", "PyTorch ImageFolder+DataLoader", torch.ImagesPerSec, torch.Torch)
	fmt.Printf("  ratio end-to-end/tensor-only       %.3f  (target >= 0.9)\n", ee/tt)
	fmt.Printf("  ratio end-to-end/PyTorch pipeline  %.3f  (target >= 1.4)\n", ee/torch.ImagesPerSec)
	return nil
}

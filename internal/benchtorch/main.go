// Command benchtorch measures gozoo's PyTorch plugin against its peers in
// one run and prints the ratios: feature extraction through the torch
// plugin against the Go resnet plugin (ONNX Runtime) on the same weights,
// and training images/s through gozoo (host streaming batches to the torch
// plugin) against a plain PyTorch loop on the same data (train_plain.py),
// each in three alternating rounds whose medians are compared.
// scripts/bench-torch.sh runs it after `make build`.
//
//	go run ./internal/benchtorch -threads 2
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

type config struct {
	pluginDir, python    string
	threads, size, batch int
	trainN, trainBatch   int
	epochs               int
	trainRounds          int
	seconds              float64
}

func main() {
	var c config
	flag.StringVar(&c.pluginDir, "plugins", "bin/plugins", "plugin folder (make build fills it)")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "python with torch and torchvision")
	flag.IntVar(&c.threads, "threads", 2, "intra-op threads for every engine")
	flag.IntVar(&c.size, "size", 112, "extract input height and width")
	flag.IntVar(&c.batch, "batch", 8, "extract batch size")
	flag.Float64Var(&c.seconds, "seconds", 4, "seconds per extract round (3 alternating rounds, median)")
	flag.IntVar(&c.trainN, "train-images", 1000, "training images (3x32x32) per epoch")
	flag.IntVar(&c.trainRounds, "train-rounds", 5, "alternating training rounds per engine; medians are compared")
	flag.IntVar(&c.trainBatch, "train-batch", 50, "training batch size")
	flag.IntVar(&c.epochs, "epochs", 2, "training epochs; the last is timed")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "benchtorch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	tmp, err := os.MkdirTemp("", "gozoo-benchtorch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	here, err := os.Getwd()
	if err != nil {
		return err
	}
	weights := filepath.Join(tmp, "resnet18.pth")
	mk := exec.Command(c.python, filepath.Join(here, "plugins/torch/testdata/make_weights.py"), "resnet18", weights, "0", "10")
	if out, err := mk.CombinedOutput(); err != nil {
		return fmt.Errorf("make weights: %v\n%s", err, out)
	}
	h, err := host.New(host.WithPluginPath(c.pluginDir))
	if err != nil {
		return err
	}
	defer h.Close()
	load := func(plugin string) (sdk.Model, error) {
		bb, err := h.Backbone(ctx, plugin)
		if err != nil {
			return nil, err
		}
		return bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: weights, Options: map[string]string{"num_classes": "10"}, Threads: c.threads})
	}

	// 1. Extract throughput, alternating rounds.
	models := map[string]sdk.Model{}
	for _, p := range []string{"resnet", "torch"} {
		m, err := load(p)
		if err != nil {
			return fmt.Errorf("plugin %s: %w", p, err)
		}
		defer m.Close()
		models[p] = m
	}
	x := random([]int64{int64(c.batch), 3, int64(c.size), int64(c.size)}, 1)
	rates := map[string][]float64{}
	for round := 0; round < 3; round++ {
		for _, p := range []string{"resnet", "torch"} {
			r, err := extractRate(ctx, models[p], x, c.seconds)
			if err != nil {
				return fmt.Errorf("%s extract: %w", p, err)
			}
			rates[p] = append(rates[p], r)
		}
	}
	goRate, pyRate := median(rates["resnet"]), median(rates["torch"])
	fmt.Printf("extract resnet18 avgpool batch %d @%d, %d threads: Go resnet plugin (ONNX Runtime) %.1f img/s, torch plugin (PyTorch) %.1f img/s, torch/Go %.2fx\n",
		c.batch, c.size, c.threads, goRate, pyRate, pyRate/goRate)

	// 2. Training images/s: gozoo vs plain PyTorch on the same data.
	xs := random([]int64{int64(c.trainN), 3, 32, 32}, 2)
	r := rand.New(rand.NewSource(3))
	ys := &sdk.Tensor{Shape: []int64{int64(c.trainN)}, Int64: make([]int64, c.trainN)}
	for i := range ys.Int64 {
		ys.Int64[i] = int64(r.Intn(10))
	}
	xp, yp := filepath.Join(tmp, "x.npy"), filepath.Join(tmp, "y.npy")
	if err := npy.WriteFile(xp, xs); err != nil {
		return err
	}
	if err := npy.WriteFile(yp, ys); err != nil {
		return err
	}
	// Alternating rounds under the same load; medians.
	var gzs, plains []float64
	for round := 0; round < c.trainRounds; round++ {
		gz, err := trainRate(ctx, models["torch"], xs, ys, c)
		if err != nil {
			return fmt.Errorf("gozoo train: %w", err)
		}
		out, err := exec.CommandContext(ctx, c.python, filepath.Join(here, "internal/benchtorch/train_plain.py"), xp, yp,
			strconv.Itoa(c.threads), strconv.Itoa(c.trainBatch), strconv.Itoa(c.epochs)).Output()
		if err != nil {
			return fmt.Errorf("train_plain.py: %w", err)
		}
		plain, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			return fmt.Errorf("train_plain.py printed %q", out)
		}
		gzs, plains = append(gzs, gz), append(plains, plain)
	}
	gz, plain := median(gzs), median(plains)
	fmt.Printf("train resnet18 layer4+fc, %d images 3x32x32, batch %d, %d threads: gozoo (host -> torch plugin) %.1f img/s, plain PyTorch %.1f img/s, gozoo/plain %.2fx (target >= 0.9x)\n",
		c.trainN, c.trainBatch, c.threads, gz, plain, gz/plain)
	return nil
}

func random(shape []int64, seed int64) *sdk.Tensor {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, sdk.NumElements(shape))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return &sdk.Tensor{Shape: shape, Float32: x}
}

func extractRate(ctx context.Context, m sdk.Model, x *sdk.Tensor, seconds float64) (float64, error) {
	req := &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: x}
	if _, err := m.Extract(ctx, req); err != nil { // warm-up
		return 0, err
	}
	start, n := time.Now(), 0
	for time.Since(start).Seconds() < seconds {
		if _, err := m.Extract(ctx, req); err != nil {
			return 0, err
		}
		n += int(x.Shape[0])
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// trainRate trains through the host and returns the last epoch's images/s
// as the plugin measured it (first batch to last, data streaming included).
func trainRate(ctx context.Context, m sdk.Model, xs, ys *sdk.Tensor, c config) (float64, error) {
	for _, st := range []sdk.SetTrainableRequest{{Patterns: []string{"*"}}, {Patterns: []string{"layer4.*", "fc.*"}, Trainable: true}} {
		if _, err := m.SetTrainable(ctx, &st); err != nil {
			return 0, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan sdk.TrainBatch, 2)
	go func() {
		defer close(ch)
		for e := 0; e < c.epochs; e++ {
			for i := 0; i < c.trainN; i += c.trainBatch {
				j := min(i+c.trainBatch, c.trainN)
				x, _ := xs.Rows(int64(i), int64(j))
				b := sdk.TrainBatch{Input: x, Labels: ys.Int64[i:j], EndOfEpoch: j == c.trainN}
				select {
				case ch <- b:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var rate float64
	err := m.(sdk.Trainer).Train(ctx, &sdk.TrainRequest{Optimizer: "sgd", LR: 0.01, Momentum: 0.9, Epochs: c.epochs, Batches: ch},
		func(e *sdk.TrainEvent) error {
			if e.Message == "train" {
				rate = e.ImagesPerSec
			}
			return nil
		})
	return rate, err
}

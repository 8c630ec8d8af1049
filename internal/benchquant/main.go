// Command benchquant measures what int8 quantization (sdk/quant) buys a
// first-party backbone on ONNX Runtime's CPU kernels: images/s of the
// float graph the plugin runs and of its quantized QDQ graph, in this
// process, on the same images at the same threads, alternating rounds,
// with the ratio; and the operators ONNX Runtime runs the quantized graph
// as, after its fusions, so that what stays float is visible.
// scripts/bench-quant.sh (part of make bench) runs it.
//
//	go run ./internal/benchquant -arch resnet50 -layer avgpool -batch 8 -size 224 -threads 2
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gozoo/gozoo/plugins/resnet"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/quant"
)

type config struct {
	arch, layer, method, act, keep string
	batch, size, threads, rounds   int
	calib                          int
	seconds                        float64
	full                           bool
}

func main() {
	var c config
	flag.StringVar(&c.arch, "arch", "resnet50", "resnet architecture")
	flag.StringVar(&c.layer, "layer", "avgpool", "feature layer (the graph's output)")
	flag.StringVar(&c.method, "method", "minmax", "calibration method: minmax, percentile or entropy")
	flag.StringVar(&c.act, "activations", "uint8", "activation type: uint8 or int8")
	flag.StringVar(&c.keep, "keep-fp32", "", "module patterns kept float, comma-separated")
	flag.BoolVar(&c.full, "full-range-weights", false, "8-bit weights (for CPUs with VNNI)")
	flag.IntVar(&c.batch, "batch", 8, "batch size")
	flag.IntVar(&c.size, "size", 224, "input height and width")
	flag.IntVar(&c.threads, "threads", 2, "intra-op threads for both graphs")
	flag.IntVar(&c.rounds, "rounds", 3, "alternating rounds per graph; the median is reported")
	flag.IntVar(&c.calib, "calibrate", 16, "calibration images")
	flag.Float64Var(&c.seconds, "seconds", 5, "seconds per round")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "benchquant:", err)
		os.Exit(1)
	}
}

// images returns n seeded images [n, 3, size, size], standard normal as
// normalized photos roughly are.
func images(n, size int, seed int64) *sdk.Tensor {
	x := sdk.Zeros(int64(n), 3, int64(size), int64(size))
	rng := rand.New(rand.NewSource(seed))
	for i := range x.Float32 {
		x.Float32[i] = float32(rng.NormFloat64())
	}
	return x
}

func run(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "gozoo-benchquant-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := resnet.New().Load(ctx, &sdk.LoadRequest{Arch: c.arch, Seed: 1, Threads: c.threads})
	if err != nil {
		return err
	}
	defer m.Close()
	path := filepath.Join(dir, c.arch+".onnx")
	if _, err := m.(sdk.Exporter).Export(ctx, &sdk.ExportRequest{Path: path, Format: sdk.FormatONNX, Layers: []string{c.layer}}); err != nil {
		return err
	}
	fp32, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	opts := quant.Options{Method: quant.Method(c.method), Activations: quant.Activation(c.act), FullRangeWeights: c.full,
		Session: []ort.Option{ort.WithThreads(c.threads)}}
	if c.keep != "" {
		opts.KeepFP32 = strings.Split(c.keep, ",")
	}
	q, err := quant.Prepare(fp32, opts)
	if err != nil {
		return err
	}
	var calib []*sdk.Tensor
	for i := 0; i < c.calib; i += c.batch {
		calib = append(calib, images(min(c.batch, c.calib-i), c.size, int64(100+i)))
	}
	start := time.Now()
	if err := q.Calibrate(ctx, calib); err != nil {
		return err
	}
	int8, err := q.Model()
	if err != nil {
		return err
	}
	qsecs := time.Since(start).Seconds()
	ops, err := quant.RuntimeOps(int8, dir, ort.WithThreads(c.threads))
	if err != nil {
		return err
	}
	x := images(c.batch, c.size, 1)
	diffs, err := quant.Compare(ctx, fp32, int8, q.Input(), []*sdk.Tensor{x}, []string{c.layer}, ort.WithThreads(c.threads))
	if err != nil {
		return err
	}
	engines := []struct {
		name  string
		model []byte
		s     *ort.Session
		ips   []float64
	}{{name: "fp32", model: fp32}, {name: "int8 (" + c.act + " activations)", model: int8}}
	for i := range engines {
		s, err := ort.NewSession(engines[i].model, ort.WithThreads(c.threads), ort.WithOutputSubsets(false))
		if err != nil {
			return fmt.Errorf("%s: %w", engines[i].name, err)
		}
		defer s.Close()
		engines[i].s = s
		for j := 0; j < 2; j++ { // warm up
			if _, err := s.Run(ctx, map[string]*sdk.Tensor{q.Input(): x}, nil); err != nil {
				return fmt.Errorf("%s: %w", engines[i].name, err)
			}
		}
	}
	for r := 0; r < c.rounds; r++ {
		for i := range engines {
			n := 0
			t0 := time.Now()
			for time.Since(t0).Seconds() < c.seconds {
				if _, err := engines[i].s.Run(ctx, map[string]*sdk.Tensor{q.Input(): x}, nil); err != nil {
					return err
				}
				n++
			}
			engines[i].ips = append(engines[i].ips, float64(n*c.batch)/time.Since(t0).Seconds())
		}
	}
	f, i8 := median(engines[0].ips), median(engines[1].ips)
	fmt.Printf("%s %s, int8 vs fp32 on ONNX Runtime (in process), batch %d at %dx%d, %d threads, %s/%s, %d cores\n",
		c.arch, c.layer, c.batch, c.size, c.size, c.threads, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("  %-28s %8.1f images/s  (rounds %v, %.1f MB)\n", engines[0].name, f, rounded(engines[0].ips), float64(len(fp32))/1e6)
	fmt.Printf("  %-28s %8.1f images/s  (rounds %v, %.1f MB)\n", engines[1].name, i8, rounded(engines[1].ips), float64(len(int8))/1e6)
	fmt.Printf("  ratio int8/fp32            %.3f\n", i8/f)
	fmt.Printf("  quantization: %s calibration on %d seeded images in %.1f s, weights %s; %s cosine to fp32 %.4f (seeded random weights)\n",
		c.method, c.calib, qsecs, map[bool]string{false: "7-bit", true: "8-bit"}[c.full], c.layer, diffs[0].CosineMean)
	fmt.Printf("  ONNX Runtime runs the int8 graph as: %s\n", quant.FormatOps(ops))
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func rounded(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprintf("%.1f", x)
	}
	return out
}

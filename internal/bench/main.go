// Command bench measures feature-extraction throughput of a first-party
// backbone three ways in one run, at equal threads: through the plugin
// process (sdk/host), in-process on the same ONNX Runtime graph, and in
// PyTorch eager (torch_eager.py). It prints images/s and the ratios
// plugin/in-process and plugin/PyTorch. `make bench` runs it.
//
//	go run ./internal/bench -arch resnet50 -layer avgpool -batch 8 -size 224 -threads 2
//	go run ./internal/bench -plugin vgg -arch vgg16 -layer avgpool -batch 8 -size 224 -threads 2
//	go run ./internal/bench -plugin transformer -arch vit_b_16 -layer heads.head -batch 4 -size 224 -threads 2
//	go run ./internal/bench -plugin efficientnet -arch efficientnet_b0 -layer classifier -batch 8 -size 224 -threads 2
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gozoo/gozoo/plugins/convnext"
	"github.com/gozoo/gozoo/plugins/efficientnet"
	"github.com/gozoo/gozoo/plugins/inception"
	"github.com/gozoo/gozoo/plugins/mobilenet"
	"github.com/gozoo/gozoo/plugins/regnet"
	"github.com/gozoo/gozoo/plugins/resnet"
	"github.com/gozoo/gozoo/plugins/swin"
	"github.com/gozoo/gozoo/plugins/transformer"
	"github.com/gozoo/gozoo/plugins/vgg"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// inProcess maps a plugin name to its backbone, run in this process for
// the in-process engine.
var inProcess = map[string]func() sdk.Backbone{
	"resnet":       resnet.New,
	"vgg":          vgg.New,
	"inception":    inception.New,
	"transformer":  transformer.New,
	"convnext":     convnext.New,
	"swin":         swin.New,
	"mobilenet":    mobilenet.New,
	"efficientnet": efficientnet.New,
	"regnet":       regnet.New,
}

type config struct {
	arch, layer, plugin, pluginDir, python string
	batch, size, threads, rounds           int
	seconds                                float64
}

func main() {
	var c config
	flag.StringVar(&c.arch, "arch", "resnet50", "architecture")
	flag.StringVar(&c.layer, "layer", "avgpool", "feature layer")
	flag.StringVar(&c.plugin, "plugin", "resnet", "plugin name")
	flag.StringVar(&c.pluginDir, "plugins", "bin/plugins", "plugin folder (make build fills it)")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "python with torch and torchvision")
	flag.IntVar(&c.batch, "batch", 8, "batch size")
	flag.IntVar(&c.size, "size", 224, "input height and width")
	flag.IntVar(&c.threads, "threads", 2, "intra-op threads for every engine")
	flag.IntVar(&c.rounds, "rounds", 3, "alternating rounds per engine; the median is reported")
	flag.Float64Var(&c.seconds, "seconds", 5, "seconds per round")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	x := sdk.Zeros(int64(c.batch), 3, int64(c.size), int64(c.size))
	rng := rand.New(rand.NewSource(1))
	for i := range x.Float32 {
		x.Float32[i] = float32(rng.NormFloat64())
	}
	load := &sdk.LoadRequest{Arch: c.arch, Threads: c.threads, Seed: 1}

	newBackbone, ok := inProcess[c.plugin]
	if !ok {
		names := make([]string, 0, len(inProcess))
		for n := range inProcess {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("no in-process backbone for plugin %q: use one of %s", c.plugin, strings.Join(names, ", "))
	}
	inproc, err := newBackbone().Load(ctx, load)
	if err != nil {
		return fmt.Errorf("in-process load: %w", err)
	}
	defer inproc.Close()

	h, err := host.New(host.WithPluginPath(c.pluginDir))
	if err != nil {
		return err
	}
	defer h.Close()
	bb, err := h.Backbone(ctx, c.plugin)
	if err != nil {
		return fmt.Errorf("start plugin (run make build first): %w", err)
	}
	plug, err := bb.Load(ctx, load)
	if err != nil {
		return fmt.Errorf("plugin load: %w", err)
	}
	defer plug.Close()

	req := &sdk.ExtractRequest{Layers: []string{c.layer}, Input: x}
	engines := []struct {
		name string
		m    sdk.Model
		ips  []float64
	}{{name: "in-process ORT", m: inproc}, {name: "plugin (gRPC)", m: plug}}
	for i := range engines { // warm up: session creation, first run
		for j := 0; j < 2; j++ {
			if _, err := engines[i].m.Extract(ctx, req); err != nil {
				return fmt.Errorf("%s: %w", engines[i].name, err)
			}
		}
	}
	for r := 0; r < c.rounds; r++ {
		for i := range engines {
			ips, err := measure(ctx, engines[i].m, req, c)
			if err != nil {
				return fmt.Errorf("%s: %w", engines[i].name, err)
			}
			engines[i].ips = append(engines[i].ips, ips)
		}
	}
	torchIPS, torchVersion, err := torchEager(ctx, c)
	if err != nil {
		return err
	}
	in, pl := median(engines[0].ips), median(engines[1].ips)
	fmt.Printf("%s %s features, batch %d at %dx%d, %d threads, %s/%s, %d cores\n",
		c.arch, c.layer, c.batch, c.size, c.size, c.threads, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("  %-22s %8.1f images/s  (rounds %v)\n", engines[1].name, pl, rounded(engines[1].ips))
	fmt.Printf("  %-22s %8.1f images/s  (rounds %v)\n", engines[0].name, in, rounded(engines[0].ips))
	fmt.Printf("  %-22s %8.1f images/s  (torch %s)\n", "PyTorch eager", torchIPS, torchVersion)
	fmt.Printf("  ratio plugin/in-process    %.3f\n", pl/in)
	fmt.Printf("  ratio plugin/PyTorch-eager %.3f\n", pl/torchIPS)
	return nil
}

// measure runs req repeatedly for c.seconds and returns images per second.
func measure(ctx context.Context, m sdk.Model, req *sdk.ExtractRequest, c config) (float64, error) {
	n := 0
	start := time.Now()
	for time.Since(start).Seconds() < c.seconds {
		if _, err := m.Extract(ctx, req); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n*c.batch) / time.Since(start).Seconds(), nil
}

func torchEager(ctx context.Context, c config) (float64, string, error) {
	script, err := filepath.Abs(filepath.Join("internal", "bench", "torch_eager.py"))
	if err != nil {
		return 0, "", err
	}
	secs := c.seconds * float64(c.rounds)
	cmd := exec.CommandContext(ctx, c.python, script, "--arch", c.arch, "--layer", c.layer,
		"--batch", fmt.Sprint(c.batch), "--size", fmt.Sprint(c.size),
		"--threads", fmt.Sprint(c.threads), "--seconds", fmt.Sprint(secs))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Errorf("PyTorch eager peer (%s %s; make setup installs torch): %w", c.python, script, err)
	}
	var res struct {
		ImagesPerSec float64 `json:"images_per_sec"`
		Torch        string  `json:"torch"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, "", fmt.Errorf("PyTorch eager peer printed %q: %w", out, err)
	}
	return res.ImagesPerSec, res.Torch, nil
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

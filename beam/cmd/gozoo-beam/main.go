// Command gozoo-beam runs gozoo extract as an Apache Beam pipeline, on
// prism in this process or on Flink, Spark or Dataflow:
//
//	gozoo-beam extract --model resnet18_w8.gozoo_fmnist --input 'photos/*.jpg' --output out/feats
//	gozoo features merge --out feats.npz out/feats-manifest.json
//
// A runner also starts this binary as its worker (Beam's --worker flag),
// which is why every flag is parsed with Go's flag package alongside
// Beam's own (--runner, --endpoint, --project, ...). See beam/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/gozoo/gozoo/beam/extract"

	// Beam's filesystems for --input and --output beyond local paths.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	// The runners --runner names.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
)

const usage = `gozoo-beam extract: gozoo extract on Apache Beam.

  gozoo-beam extract (--model NAME | --arch A [--weights W]) [--layers L1,L2]
      --input GLOB_OR_LIST[,...] --output PREFIX [--runner prism|flink|spark|dataflow RUNNER FLAGS]

Inputs are globs ('photos/*.jpg', 'gs://bucket/imgs/*.png'), read in gozoo
extract's folder order, or list files (PATH or PATH<TAB>LABEL a line, paths
relative to the list). Each batch of --batch-size consecutive inputs becomes
one shard PREFIX-HASH.npz (or .safetensors), the file gozoo extract writes,
and PREFIX-manifest.json lists them; join them with
  gozoo features merge --out OUT.npz PREFIX-manifest.json
Runner flags are Apache Beam's (see beam/README.md): --endpoint for Flink
and Spark job servers; --project, --region, --staging_location,
--temp_location, --sdk_container_image for Dataflow.

Flags:
`

// options are gozoo-beam extract's flags.
type options struct {
	model, catalogs, arch, weights, plugin, layers, opts, device string
	inputs, output, format, onError, decodeMemory, pluginPath    string
	seed                                                         int64
	threads, batchSize, workers, decodeWorkers, attempts         int
	quiet                                                        bool
}

func (o *options) register(fl *flag.FlagSet) {
	fl.StringVar(&o.model, "model", "", "catalog model, e.g. resnet18_w8.gozoo_fmnist (gozoo zoo list): sets plugin, arch, weights, preprocessing, classes and the default layer (with neither --model nor --arch: the embedded resnet18_w8.gozoo_fmnist)")
	fl.StringVar(&o.catalogs, "catalog", "", "extra catalog YAML files, comma-separated, merged after the embedded one and ~/.config/gozoo/zoo.yaml")
	fl.StringVar(&o.arch, "arch", "", "architecture, e.g. resnet50 (gozoo plugins lists them)")
	fl.StringVar(&o.weights, "weights", "", "PyTorch checkpoint (.pth or .safetensors), a local path every worker sees or a Beam path such as gs://BUCKET/w.pth; default: seeded random init")
	fl.StringVar(&o.plugin, "plugin", "", "plugin to load the arch from (default: the catalog entry's, else the native plugin offering it)")
	fl.StringVar(&o.layers, "layers", "", "layers to extract, comma-separated, by PyTorch module name (default: the model's)")
	fl.StringVar(&o.opts, "opt", "", "arch options as key=value[,key=value]")
	fl.Int64Var(&o.seed, "seed", 0, "seed of the random init when no --weights")
	fl.StringVar(&o.device, "device", "cpu", "execution device: cpu, cuda, cuda:N or tensorrt")
	fl.IntVar(&o.threads, "threads", 0, "intra-op threads of each worker's model (0: ONNX Runtime's default)")
	fl.StringVar(&o.inputs, "input", "", "globs and list files, comma-separated, read through Beam's filesystems")
	fl.StringVar(&o.output, "output", "", "prefix of the shards (PREFIX-HASH.npz) and of PREFIX-manifest.json")
	fl.StringVar(&o.format, "format", "npz", "shard format: npz or safetensors")
	fl.IntVar(&o.batchSize, "batch-size", 64, "inputs per batch: one forward pass and one shard each")
	fl.IntVar(&o.workers, "workers", 0, "deal the batches into this many groups, one model each (set it on prism, which runs this process's cores); 0: the runner spreads the batches (Dataflow, Flink)")
	fl.StringVar(&o.onError, "on-error", "fail", "an image that does not decode: fail (the job fails, naming it) or skip (recorded in its shard and the manifest)")
	fl.IntVar(&o.decodeWorkers, "decode-workers", runtime.NumCPU(), "image decoding goroutines per worker")
	fl.StringVar(&o.decodeMemory, "decode-memory", "2GiB", "memory that images being decoded on a worker may hold at once")
	fl.IntVar(&o.attempts, "attempts", 4, "tries at one batch, each on a fresh model and plugin (Dataflow's own retries come on top)")
	fl.StringVar(&o.pluginPath, "plugin-path", "", "folders to search for plugins on the workers, colon-separated (default: $GOZOO_PLUGIN_PATH, then plugins/ beside the binary)")
	fl.BoolVar(&o.quiet, "quiet", true, "show only warnings and errors of the runner's log")
}

func (o *options) config() (extract.Config, error) {
	mem, err := parseBytes(o.decodeMemory)
	if err != nil {
		return extract.Config{}, fmt.Errorf("%w: --decode-memory %q: %v", extract.ErrConfig, o.decodeMemory, err)
	}
	c := extract.Config{
		Plugin: o.plugin, Arch: o.arch, Weights: o.weights, Seed: o.seed, Device: o.device, Threads: o.threads,
		Layers: split(o.layers, ","), Inputs: split(o.inputs, ","), Output: o.output, Format: o.format,
		BatchSize: o.batchSize, Workers: o.workers, OnError: o.onError, DecodeWorkers: o.decodeWorkers,
		DecodeMemory: mem, Attempts: o.attempts, PluginPath: split(o.pluginPath, ":"),
	}
	c.Options = map[string]string{}
	for _, kv := range split(o.opts, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return c, fmt.Errorf("%w: --opt %q: want key=value", extract.ErrConfig, kv)
		}
		c.Options[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := c.Resolve(o.model, split(o.catalogs, ",")); err != nil {
		return c, err
	}
	return c, c.Check()
}

func split(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseBytes reads a size such as 2GiB, 512MiB or 1000000 (bytes).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(v*mult >= 1) || v*mult >= math.MaxInt64 {
		return 0, errors.New("give a positive size such as 2GiB, 512MiB or 1500000000")
	}
	return int64(v * mult), nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run runs gozoo-beam with args and returns the exit code: 0 on success,
// 1 on failure, 2 on a usage error.
func run(args []string, stderr io.Writer) int {
	var o options
	o.register(flag.CommandLine)
	flag.CommandLine.SetOutput(stderr)
	flag.CommandLine.Usage = func() {
		fmt.Fprint(stderr, usage)
		flag.CommandLine.PrintDefaults()
	}
	// A runner starts this binary as its SDK worker with Beam's flags
	// and no subcommand; beam.Init then serves as the worker and exits.
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if err := flag.CommandLine.Parse(args); err != nil {
		return 2
	}
	if o.quiet {
		beamlog.LogLevel = "warn" // beam.Init sets up the log
	}
	beam.Init()
	switch cmd {
	case "extract":
	case "":
		flag.CommandLine.Usage()
		return 2
	default:
		fmt.Fprintf(stderr, "gozoo-beam: unknown command %q: the command is extract\n", cmd)
		return 2
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(stderr, "gozoo-beam: unexpected arguments %q: give inputs with --input\n", flag.Args())
		return 2
	}
	cfg, err := o.config()
	if err != nil {
		fmt.Fprintln(stderr, "gozoo-beam:", err)
		if errors.Is(err, extract.ErrConfig) {
			return 2
		}
		return 1
	}
	runner := *runners.Runner
	if runner == "" {
		runner = "prism"
	}
	fmt.Fprintf(stderr, "model: %s\ntransform: %s\nlayers: %s\nrunner: %s\n", cfg.Info["model"], cfg.Info["transform"], strings.Join(cfg.Layers, ","), runner)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := extract.Run(ctx, runner, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gozoo-beam:", brief(err))
		return 1
	}
	if m == nil {
		fmt.Fprintf(stderr, "job submitted; when it ends, its manifest is %s\n", cfg.ManifestPath())
		return 0
	}
	fmt.Fprintf(stderr, "wrote %s: %d shards, %d rows, %d of %d inputs skipped\njoin them: gozoo features merge --out OUT.%s %s\n",
		cfg.ManifestPath(), len(m.Shards), m.Rows, m.Skipped, m.Inputs, cfg.Format, cfg.ManifestPath())
	return 0
}

// brief returns the message of the DoFn that failed a job, without the
// runner's account of the plan around it; other errors whole.
func brief(err error) string {
	msg := err.Error()
	const mark = "] failed:\n"
	if i := strings.LastIndex(msg, mark); i >= 0 {
		return strings.TrimSpace(msg[i+len(mark):])
	}
	return msg
}

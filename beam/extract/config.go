package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/zoo"
)

// ErrConfig reports settings that cannot run; the message says what to
// change.
var ErrConfig = errors.New("extract: bad settings")

// Config is one extraction as every worker runs it. It is resolved where
// the pipeline is launched (see Resolve) and travels inside the pipeline,
// so its fields are plain values.
type Config struct {
	// Model. Entry, when set, is the catalog entry (YAML) whose weights
	// every worker fetches through its zoo cache; otherwise Weights is a
	// checkpoint path (local, or any Beam filesystem path such as
	// gs://...), checked against WeightsSHA256 on the worker, or empty for
	// a random init seeded by Seed.
	Entry         string
	Plugin        string // empty: the native plugin offering Arch
	Arch          string
	Options       map[string]string
	Weights       string
	WeightsSHA256 string
	Seed          int64
	Device        string
	Threads       int // intra-op threads per worker's model; 0: ONNX Runtime's default
	Layers        []string
	// Pre is the eval transform (the model card's, or torchvision's
	// ImageNet eval transform for an arch alone); ModelClasses name the
	// model's outputs; Info are the notes written into every shard
	// (model, transform).
	Pre          zoo.Preprocess
	ModelClasses []string
	Info         map[string]string

	// Inputs are globs and list files, read through Beam's filesystems.
	Inputs    []string
	BatchSize int
	// Workers, when positive, deals the batches into that many groups,
	// each extracted in turn by one DoFn instance (one model); 0 lets the
	// runner spread the batches (they are reshuffled).
	Workers int
	OnError string // fail or skip
	// DecodeWorkers decode a batch's images at once on a worker;
	// DecodeMemory bounds the bytes they hold (see imageproc.Budget).
	DecodeWorkers int
	DecodeMemory  int64
	// Output is the prefix of the shards (PREFIX-HASH.npz) and of the
	// manifest (PREFIX-manifest.json); Format is npz or safetensors.
	Output string
	Format string
	// Attempts bounds the tries at one batch (see the package doc).
	Attempts int
	// PluginPath, when set, replaces the workers' plugin search path
	// (GOZOO_PLUGIN_PATH, then plugins/ beside the worker binary).
	PluginPath []string
}

// Check reports settings that cannot run.
func (c *Config) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Arch == "":
		return bad("no model: give --model NAME (gozoo zoo list) or --arch ARCH")
	case len(c.Layers) == 0:
		return bad("--layers is required (gozoo layers %s lists them)", c.Arch)
	case len(c.Inputs) == 0:
		return bad("--input is required: a glob such as 'photos/*.jpg', or a list file of PATH or PATH<TAB>LABEL lines")
	case c.Output == "":
		return bad("--output PREFIX is required: shards are written as PREFIX-HASH.%s, the manifest as PREFIX-manifest.json", c.Format)
	case strings.HasSuffix(c.Output, "/"):
		return bad("--output %s is a folder: give a prefix such as %sfeats", c.Output, c.Output)
	case c.Format != "npz" && c.Format != "safetensors":
		return bad("--format %q: use npz or safetensors", c.Format)
	case c.BatchSize <= 0:
		return bad("--batch-size %d: must be positive", c.BatchSize)
	case c.Workers < 0:
		return bad("--workers %d: give 0 (the runner decides) or more", c.Workers)
	case c.OnError != "fail" && c.OnError != "skip":
		return bad("--on-error %q: use fail or skip", c.OnError)
	case c.Attempts < 1:
		return bad("--attempts %d: must be at least 1", c.Attempts)
	case c.DecodeWorkers < 1:
		return bad("--decode-workers %d: must be at least 1", c.DecodeWorkers)
	case c.DecodeMemory < 1:
		return bad("--decode-memory must be positive")
	}
	seen := map[string]bool{}
	for _, l := range c.Layers {
		if l == "" || seen[l] {
			return bad("--layers %s: names must be given once and not be empty", strings.Join(c.Layers, ","))
		}
		seen[l] = true
	}
	if _, err := c.Pre.Transform(); err != nil {
		return bad("preprocessing: %v", err)
	}
	return nil
}

// Fingerprint is a digest of every setting that changes a shard's rows:
// model, weights, options, preprocessing, layers and format. It is part of
// every shard's name, so that a run with other settings never mistakes
// another run's shard for its own.
func (c *Config) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "entry=%q\nplugin=%q\narch=%q\nweights=%q\nseed=%d\ndevice=%q\nlayers=%q\npre=%+v\nformat=%q\n",
		c.Entry, c.Plugin, c.Arch, c.WeightsSHA256, c.Seed, c.Device, c.Layers, c.Pre, c.Format)
	for _, k := range slices.Sorted(maps.Keys(c.Options)) {
		fmt.Fprintf(h, "opt %q=%q\n", k, c.Options[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShardName is the file name (without folder) of the shard of the batch
// starting at input position start with the given input paths: a hash of
// the settings, the position and the paths. A retried batch gets the same
// name; two batches never do.
func (c *Config) ShardName(start int, paths []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n", c.Fingerprint(), start)
	for _, p := range paths {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return baseName(c.Output) + "-" + hex.EncodeToString(h.Sum(nil))[:20] + "." + c.Format
}

// ManifestPath is where the manifest is written.
func (c *Config) ManifestPath() string { return c.Output + "-manifest.json" }

// request is the LoadRequest every worker sends, with the weights' local
// path.
func (c *Config) request(weights string) *sdk.LoadRequest {
	return &sdk.LoadRequest{Arch: c.Arch, Options: maps.Clone(c.Options), WeightsPath: weights, Seed: c.Seed, Device: c.Device, Threads: c.Threads}
}

// fetchWeights returns a local path of the weights on this worker:
// a catalog entry's through the zoo cache, a local checkpoint in place,
// a remote one copied into the zoo cache; each is checked against its
// sha256. "" means a random init.
func (c *Config) fetchWeights(ctx context.Context) (string, error) {
	switch {
	case c.Entry != "":
		cat := zoo.New()
		if err := cat.Merge(strings.NewReader(c.Entry), "embedded:gozoo-beam"); err != nil {
			return "", err
		}
		names := cat.Names()
		if len(names) != 1 {
			return "", fmt.Errorf("%w: the catalog entry holds %d models", ErrConfig, len(names))
		}
		e, _ := cat.Lookup(names[0])
		cache, err := zoo.OpenCache(zoo.DefaultCacheDir())
		if err != nil {
			return "", err
		}
		return cache.Fetch(ctx, e)
	case c.Weights == "":
		return "", nil
	case isLocal(c.Weights):
		sum, _, err := zoo.FileSHA256(c.Weights)
		if err != nil {
			return "", fmt.Errorf("weights %s on this worker: %w (a worker reads --weights from its own disk: give a path every worker sees, such as gs://BUCKET/w.pth)", c.Weights, err)
		}
		if sum != c.WeightsSHA256 {
			return "", fmt.Errorf("%w: weights %s on this worker have sha256 %s; at launch they had %s", zoo.ErrChecksum, c.Weights, sum, c.WeightsSHA256)
		}
		return c.Weights, nil
	}
	// A remote checkpoint: copied once per worker machine into the zoo
	// cache, under its sha256.
	dir := filepath.Join(zoo.DefaultCacheDir(), "weights")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dest := filepath.Join(dir, c.WeightsSHA256[:16]+"-"+baseName(c.Weights))
	if sum, _, err := zoo.FileSHA256(dest); err == nil && sum == c.WeightsSHA256 {
		return dest, nil
	}
	tmp, err := stageFile(ctx, c.Weights, dir)
	if err != nil {
		return "", fmt.Errorf("weights %s: %w", c.Weights, err)
	}
	defer os.Remove(tmp)
	sum, _, err := zoo.FileSHA256(tmp)
	if err != nil {
		return "", err
	}
	if sum != c.WeightsSHA256 {
		return "", fmt.Errorf("%w: weights %s have sha256 %s; at launch they had %s", zoo.ErrChecksum, c.Weights, sum, c.WeightsSHA256)
	}
	return dest, os.Rename(tmp, dest)
}

// choosePlugin returns the plugin serving c.Arch: c.Plugin, else the one
// native plugin (an executable, running the model on ONNX Runtime)
// offering it, else the one manifest plugin.
func (c *Config) choosePlugin(ctx context.Context, h *host.Client) (string, error) {
	if c.Plugin != "" {
		return c.Plugin, nil
	}
	offers, err := h.Offering(ctx, c.Arch)
	if err != nil {
		return "", err
	}
	var native, manifest []string
	for _, d := range offers {
		if d.Err != nil {
			continue
		}
		if d.Manifest {
			manifest = append(manifest, d.Name)
		} else {
			native = append(native, d.Name)
		}
	}
	for _, names := range [][]string{native, manifest} {
		switch len(names) {
		case 0:
			continue
		case 1:
			return names[0], nil
		}
		return "", fmt.Errorf("%w: arch %q is offered by plugins %s: choose one with --plugin", ErrConfig, c.Arch, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%w: no plugin offers arch %q on this worker (plugins are found on GOZOO_PLUGIN_PATH and in plugins/ beside the binary; make build puts them in bin/plugins)", sdk.ErrUnknownArch, c.Arch)
}

// Resolve fills the model part of c at launch: from the catalog entry
// named model (the embedded catalog, the user's and the files in
// catalogs, as gozoo extract --model reads them), or from c.Arch and
// c.Weights (with the model card beside the weights, when there is one).
// The eval transform, the model's classes and the default layer come from
// the entry or card as in gozoo extract; an arch alone gets torchvision's
// ImageNet eval transform. With neither a model nor an arch nor weights,
// the embedded zoo.DefaultModel serves, as in gozoo extract.
func (c *Config) Resolve(model string, catalogs []string) error {
	if model == "" && c.Arch == "" && c.Weights == "" {
		model = zoo.DefaultModel // as gozoo extract with neither --model nor --arch
	}
	src, preSrc := "", ""
	var card *zoo.ModelCard
	switch {
	case model != "":
		if c.Arch != "" || c.Weights != "" {
			return fmt.Errorf("%w: --model %s sets the arch and weights: drop --arch/--weights, or drop --model", ErrConfig, model)
		}
		cat, err := zoo.Default()
		if err != nil {
			return err
		}
		for _, p := range append([]string{zoo.UserCatalogPath()}, catalogs...) {
			if _, err := os.Stat(p); p == zoo.UserCatalogPath() && err != nil {
				continue
			}
			if err := cat.MergeFile(p); err != nil {
				return err
			}
		}
		e, err := cat.Lookup(model)
		if err != nil {
			return err
		}
		if e.Weights.Path != "" {
			abs, err := filepath.Abs(e.Weights.Path)
			if err != nil {
				return err
			}
			e.Weights.Path = abs
		}
		b, err := e.Marshal()
		if err != nil {
			return err
		}
		c.Entry = "models:\n" + indent(string(b))
		c.Arch = e.Arch
		if c.Plugin == "" {
			c.Plugin = e.Plugin
		}
		c.Options = withDefaults(c.Options, e.Options)
		if card, err = e.Card(); err != nil {
			return err
		}
		src = "catalog entry " + e.Name
	case c.Weights != "":
		if isLocal(c.Weights) {
			var err error
			if card, err = zoo.ReadCard(c.Weights); err != nil {
				return err
			}
		}
		if card != nil {
			if c.Arch == "" {
				c.Arch = card.Arch
			} else if c.Arch != card.Arch {
				return fmt.Errorf("%w: --arch %s, but %s says the weights are %s: drop --arch", ErrConfig, c.Arch, zoo.CardPath(c.Weights), card.Arch)
			}
			c.Options = withDefaults(c.Options, card.Options)
			src = "model card " + zoo.CardPath(c.Weights)
		} else {
			if c.Arch == "" {
				return fmt.Errorf("%w: --weights %s has no model card: give --arch", ErrConfig, c.Weights)
			}
			src = "--arch " + c.Arch + ", no model card beside " + c.Weights
		}
		sum, err := weightsSHA256(c.Weights)
		if err != nil {
			return err
		}
		c.WeightsSHA256 = sum
	default:
		if c.Arch == "" {
			return fmt.Errorf("%w: give --model NAME (gozoo zoo list) or --arch ARCH", ErrConfig)
		}
		src = "--arch " + c.Arch + ", seeded random weights"
	}
	c.Pre, preSrc = zoo.ImageNetPreprocess(), "torchvision's ImageNet eval transform, the default for --arch"
	if card != nil {
		c.Pre, preSrc = card.Preprocess, src
		c.ModelClasses = card.Classes
		if len(c.Layers) == 0 && card.Layer != "" {
			c.Layers = []string{card.Layer}
		}
	}
	c.Info = map[string]string{"model": c.Arch + " (" + src + ")", "transform": c.Pre.String() + " (" + preSrc + ")"}
	return nil
}

// withDefaults returns opts with the entries of defaults it lacks.
func withDefaults(opts, defaults map[string]string) map[string]string {
	out := maps.Clone(opts)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "  - " + l
		} else {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// weightsSHA256 hashes a checkpoint read through Beam's filesystems.
func weightsSHA256(path string) (string, error) {
	if isLocal(path) {
		sum, _, err := zoo.FileSHA256(path)
		return sum, err
	}
	r, err := openRead(context.Background(), path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

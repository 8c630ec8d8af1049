package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo"
	"github.com/gozoo/gozoo/zoo/featfile"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/spf13/cobra"
)

// imageFlags are gozoo extract's flags for image inputs (a folder, an
// ImageFolder tree, a file list or IDX images) and catalog models.
type imageFlags struct {
	catalogFlags
	transformFlags
	Dataset string
	Shard   string
	OnError string
	Workers int
	// DecodeMemory bounds the bytes of images being decoded at once
	// ("2GiB", "512MiB").
	DecodeMemory string
}

func (o *imageFlags) register(cmd *cobra.Command) {
	o.catalogFlags.register(cmd, "catalog model, e.g. resnet50.tv_in1k (gozoo zoo list); sets plugin, arch, weights, preprocessing, classes and the default layer (default with neither --model nor --arch: the embedded "+zoo.DefaultModel+")")
	o.transformFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Dataset, "dataset", "auto", "input kind: auto, folder, imagefolder, list or idx")
	fl.StringVar(&o.Shard, "shard", "", "take part i of N (i/N, 0-based): N machines with i = 0..N-1 cover the inputs once")
	fl.StringVar(&o.OnError, "on-error", "fail", "an image that does not decode: fail (stop; rows written so far are kept and a rerun resumes) or skip (record it and go on)")
	fl.IntVar(&o.Workers, "workers", runtime.NumCPU(), "image decoding goroutines (they run while the model computes)")
	fl.StringVar(&o.DecodeMemory, "decode-memory", "2GiB", "memory that images being decoded may hold at once, across --workers (file plus pixels, from each header); a single image needing more is refused")
}

// imageInput reports whether IN is images rather than a .npy tensor.
func (o *ExtractOptions) imageInput() bool {
	if o.Images.Model != "" {
		return true
	}
	st, err := os.Stat(o.Input)
	if err == nil && st.IsDir() {
		return true
	}
	return !strings.HasSuffix(strings.ToLower(o.Input), ".npy")
}

// loadCatalog returns the embedded catalog merged with the user's and
// the --catalog files.
func loadCatalog(extra []string) (*zoo.Catalog, error) {
	cat, err := zoo.Default()
	if err != nil {
		return nil, err
	}
	if p := zoo.UserCatalogPath(); p != "" {
		if _, err := os.Stat(p); err == nil {
			if err := cat.MergeFile(p); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range extra {
		if err := cat.MergeFile(p); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// openCache opens the weights cache with a progress bar on w.
func openCache(w io.Writer, offline bool) (*zoo.Cache, error) {
	tty := isTerminal(w)
	return zoo.OpenCache(zoo.DefaultCacheDir(), zoo.WithOffline(offline), zoo.WithProgress(func(name string, done, total int64) {
		if !tty {
			return
		}
		if total > 0 {
			fmt.Fprintf(w, "\rpull %s %s %5.1f%% of %.1f MB", name, bar(float64(done)/float64(total), 30), 100*float64(done)/float64(total), float64(total)/1e6)
		} else {
			fmt.Fprintf(w, "\rpull %s %.1f MB", name, float64(done)/1e6)
		}
		if done == total {
			fmt.Fprintln(w)
		}
	}))
}

func isTerminal(w io.Writer) bool {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return true
		}
	}
	return false
}

func bar(frac float64, width int) string {
	n := int(frac * float64(width))
	n = max(0, min(n, width))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

// resolveImageModel fills o.Model and o.Layers from --model (or the
// model card beside --weights) and returns the preprocessing and a string
// identifying the model for resume.
func (o *ExtractOptions) resolveImageModel(ctx context.Context) (zoo.Preprocess, string, error) {
	im := &o.Images
	if im.Model == "" && o.Model.Arch == "" && o.Model.Weights == "" {
		im.Model = zoo.DefaultModel
		fmt.Fprintf(o.f.Err, "no --model or --arch: using the embedded %s (gozoo zoo show %s)\n", im.Model, im.Model)
	}
	spec, err := o.f.resolveSpec(ctx, &o.Model, &im.catalogFlags, &im.transformFlags)
	if err != nil {
		return zoo.Preprocess{}, "", err
	}
	o.spec = spec
	if len(o.Layers) == 0 && spec.Layer != "" {
		o.Layers = []string{spec.Layer}
		fmt.Fprintf(o.f.Err, "layers: %s (the model's default; --layers picks others)\n", spec.Layer)
	}
	return spec.Pre, spec.ID, nil
}

func runExtractImages(ctx context.Context, o *ExtractOptions) error {
	im := &o.Images
	if im.OnError != "fail" && im.OnError != "skip" {
		return usageErrorf("--on-error %q: use fail or skip", im.OnError)
	}
	if o.Out == "" {
		return usageErrorf("--out is required (.npz or .safetensors)")
	}
	if !strings.HasSuffix(o.Out, ".npz") && !strings.HasSuffix(o.Out, ".safetensors") {
		return usageErrorf("--out %s: write .npz or .safetensors", o.Out)
	}
	if o.BatchSize <= 0 {
		return usageErrorf("--batch-size %d: must be positive", o.BatchSize)
	}
	if im.Workers <= 0 {
		im.Workers = 1
	}
	if im.DecodeMemory == "" {
		im.DecodeMemory = "2GiB"
	}
	decodeMemory, err := parseBytes(im.DecodeMemory)
	if err != nil {
		return usageErrorf("--decode-memory %q: %v", im.DecodeMemory, err)
	}
	pre, modelID, err := o.resolveImageModel(ctx)
	if err != nil {
		return err
	}
	if len(o.Layers) == 0 {
		return usageErrorf("--layers is required (gozoo layers %s lists them)", o.Model.Arch)
	}
	tf, err := pre.Transform()
	if err != nil {
		return usageErrorf("preprocessing: %v", err)
	}
	ds, err := dataset.OpenKind(o.Input, im.Dataset)
	if err != nil {
		return err
	}
	if im.Shard != "" {
		i, n, err := dataset.ParseShard(im.Shard)
		if err != nil {
			return usageErrorf("--%v", err)
		}
		if ds, err = ds.Shard(i, n); err != nil {
			return err
		}
		if len(ds.Samples) == 0 {
			return fmt.Errorf("--shard %s of %s holds no image", im.Shard, o.Input)
		}
	}
	if o.subset != nil {
		if ds, err = o.subset(ds); err != nil {
			return err
		}
	}
	// Labels become the model's class indices where the tree's classes
	// are the model's; they are part of the run's settings.
	classes := labelClasses(o.f.Err, ds, o.spec.Classes)
	// The model loads, and every flag is checked, before OUT.partial is
	// opened; featfile creates it with the first batch.
	model, res, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	run, err := o.runSettings(modelID, res, tf, ds)
	if err != nil {
		return err
	}
	w, err := featfile.Open(o.Out, run, o.Layers)
	if err != nil {
		return err
	}
	total := len(ds.Samples)
	startPos := w.Next()
	if startPos > 0 {
		fmt.Fprintf(o.f.Err, "resuming %s: %d of %d images already done (%d rows), continuing at %s\n",
			o.Out, startPos, total, w.Rows(), ds.Samples[min(startPos, total-1)].Path)
	}
	if startPos < total {
		if err := o.extractImages(ctx, model, tf, ds, w, startPos, imageproc.NewBudget(decodeMemory)); err != nil {
			if ctx.Err() != nil && w.Next() > 0 {
				// Interrupted: say what is kept and how to go on.
				fmt.Fprintf(o.f.Err, "kept %d of %d images (%d rows) in %s.partial: rerun the same command to resume\n",
					w.Next(), total, w.Rows(), o.Out)
			}
			return err
		}
	}
	w.SetClasses(classes, o.spec.Classes)
	w.SetInfo(map[string]string{"model": o.Model.Arch + " (" + o.spec.Source + ")", "transform": pre.String() + " (" + o.spec.PreSource + ")"})
	skipped := w.Skipped()
	rows := w.Rows()
	if err := w.Finish(); err != nil {
		return err
	}
	fmt.Fprintf(o.f.Err, "wrote %s: %d rows, %d layers (%s), %d skipped\n", o.Out, rows, len(o.Layers), strings.Join(o.Layers, ","), len(skipped))
	return nil
}

// labelClasses returns the names of ds's labels. When ds is an
// ImageFolder tree whose classes are all among the model's, the labels are
// renumbered as the model's class indices, so that a label and the argmax
// of the model's logits compare directly.
func labelClasses(w io.Writer, ds *dataset.Dataset, model []string) []string {
	if len(ds.Classes) == 0 {
		return nil
	}
	if len(model) == 0 {
		fmt.Fprintf(w, "labels: the tree's %d classes in torchvision's order (the model records no classes)\n", len(ds.Classes))
		return ds.Classes
	}
	n := len(ds.Classes)
	if missing := ds.Relabel(model); len(missing) > 0 {
		fmt.Fprintf(w, "labels: the tree's %d classes in torchvision's order; class %q is not among the model's, so labels are not the model's output indices (the file's model_classes names those)\n", n, missing[0])
		return ds.Classes
	}
	fmt.Fprintf(w, "labels: the model's class indices (the tree's %d classes matched by name)\n", n)
	return model
}

// runSettings names everything that changes the output of an image
// extract, for featfile to refuse resuming a partial output of another
// run: model, plugin (name, version, sha256), weights (sha256) or the
// seed of a random init, options, device, preprocessing and the inputs.
func (o *ExtractOptions) runSettings(modelID string, r *resolved, tf imageproc.Transform, ds *dataset.Dataset) (featfile.Run, error) {
	req, err := o.Model.request()
	if err != nil {
		return nil, err
	}
	run := featfile.Run{
		"arch":      o.Model.Arch,
		"device":    o.Model.Device,
		"transform": fmt.Sprintf("%+v", tf),
	}
	if o.Images.Model != "" {
		run["model"] = modelID
	}
	if r != nil {
		p := r.Plugin
		if r.Desc != nil {
			p += " " + r.Desc.Version
		}
		if h, err := o.f.Host(); err == nil {
			if infos, err := h.Plugins(); err == nil {
				for _, in := range infos {
					if in.Name == r.Plugin {
						p += " sha256 " + in.SHA256
					}
				}
			}
		}
		run["plugin"] = p
	}
	if o.Model.Weights == "" {
		run["seed"] = strconv.FormatInt(o.Model.Seed, 10)
	} else {
		sum, err := fileSHA256(o.Model.Weights)
		if err != nil {
			return nil, fmt.Errorf("weights %s: %w", o.Model.Weights, err)
		}
		run["weights"] = "sha256 " + sum
	}
	var opts []string
	for _, k := range slices.Sorted(maps.Keys(req.Options)) {
		opts = append(opts, k+"="+req.Options[k])
	}
	run["options"] = strings.Join(opts, ",")
	h := sha256.New()
	for _, s := range ds.Samples {
		fmt.Fprintf(h, "%d\t%s\t%d\n", s.Index, s.Path, s.Label)
	}
	in := fmt.Sprintf("%s %s: %d images, listing sha256 %x", ds.Kind, o.Input, len(ds.Samples), h.Sum(nil))
	if o.Images.Shard != "" {
		in += ", shard " + o.Images.Shard
	}
	run["inputs"] = in
	return run, nil
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(path string) (string, error) {
	sum, _, err := zoo.FileSHA256(path)
	return sum, err
}

// extractImages decodes batches on im.Workers goroutines while the model
// computes the previous batch, and commits each batch to w.
func (o *ExtractOptions) extractImages(ctx context.Context, model sdk.Model, tf imageproc.Transform, ds *dataset.Dataset, w *featfile.Writer, startPos int, budget *imageproc.Budget) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	per := tf.Len()
	batches := dataset.LoadWithin(ctx, ds, tf, startPos, o.BatchSize, o.Images.Workers, budget)
	prog := newImageProgress(o.f.Err, len(ds.Samples), startPos)
	defer prog.done()
	for b := range batches {
		var rows []featfile.Row
		var skipped []featfile.Skip
		var x []float32
		var failed error
		for i, s := range b.Samples {
			if err := b.Errs[i]; err != nil {
				if errors.Is(err, imageproc.ErrOverBudget) {
					err = fmt.Errorf("%w: raise --decode-memory (now %s) or downscale the image", err, o.Images.DecodeMemory)
				}
				if o.Images.OnError == "fail" {
					failed = err
					break
				}
				fmt.Fprintf(o.f.Err, "\rskip %v\n", err)
				skipped = append(skipped, featfile.Skip{Path: s.Path, Error: err.Error()})
				continue
			}
			rows = append(rows, featfile.Row{Path: s.Path, Label: s.Label})
			x = append(x, b.X[i*per:(i+1)*per]...)
		}
		next := b.Start + len(b.Samples)
		if failed != nil {
			next = b.Start + len(rows) // the good rows before the bad image
		}
		feats := map[string]*sdk.Tensor{}
		if len(rows) > 0 {
			in, err := sdk.NewTensor(append([]int64{int64(len(rows))}, tf.Shape()...), x)
			if err != nil {
				return err
			}
			res, err := model.Extract(ctx, &sdk.ExtractRequest{Layers: o.Layers, Input: in})
			if err != nil {
				return fmt.Errorf("extract %s..%s: %w", rows[0].Path, rows[len(rows)-1].Path, err)
			}
			feats = res.Outputs
		}
		if len(rows) > 0 || len(skipped) > 0 {
			if err := w.Append(rows, feats, skipped, next); err != nil {
				return err
			}
		}
		prog.update(next)
		if failed != nil && w.Next() == 0 {
			return fmt.Errorf("%w (with --on-error fail, before any row was written: fix or remove the file and rerun, or rerun with --on-error skip)", failed)
		}
		if failed != nil {
			return fmt.Errorf("%w (with --on-error fail; %d rows so far are kept in %s.partial: fix or remove the file and rerun to resume, or rerun with --on-error skip)",
				failed, w.Rows(), o.Out)
		}
	}
	return ctx.Err()
}

// parseBytes reads a size such as 2GiB, 512MiB, 1.5GB or 1000000 (bytes).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) || v*mult >= math.MaxInt64 || v*mult < 1 {
		return 0, fmt.Errorf("give a positive size such as 2GiB, 512MiB or 1500000000")
	}
	return int64(v * mult), nil
}

// imageProgress draws a progress bar with images/s on a terminal, and a
// line every 10 s elsewhere.
type imageProgress struct {
	w          io.Writer
	total      int
	start      int
	began      time.Time
	last       time.Time
	tty, drawn bool
}

func newImageProgress(w io.Writer, total, start int) *imageProgress {
	return &imageProgress{w: w, total: total, start: start, began: time.Now(), last: time.Now(), tty: isTerminal(w)}
}

func (p *imageProgress) update(done int) {
	secs := time.Since(p.began).Seconds()
	rate := float64(done-p.start) / secs
	eta := ""
	if rate > 0 {
		eta = (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String()
	}
	line := fmt.Sprintf("extract %s %d/%d images  %.1f images/s  eta %s", bar(float64(done)/float64(p.total), 30), done, p.total, rate, eta)
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", line)
		p.drawn = true
	case time.Since(p.last) > 10*time.Second || done == p.total:
		fmt.Fprintln(p.w, line)
		p.last = time.Now()
	}
}

func (p *imageProgress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

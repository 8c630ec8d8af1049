package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/zoo"
	"github.com/spf13/cobra"
)

// ExtractOptions configures gozoo extract.
type ExtractOptions struct {
	f         *Factory
	Model     modelFlags
	Layers    []string
	Out       string
	Input     string
	BatchSize int
	// Lengths is an optional .npy of int64 [N] per-sequence lengths.
	Lengths string
	// Images configures image inputs (a folder, an ImageFolder tree, a
	// file list or IDX images) and catalog models (--model).
	Images imageFlags
	// ONNX names a .onnx file served by the onnx plugin (arch "onnx").
	ONNX string
	// Precision is fp32 or int8 ("": the model's own); with int8 and
	// no --onnx, Quant says how to quantize the model first.
	Precision string
	Quant     quantFlags

	spec *modelSpec // set by resolveImageModel
	// subset, when set, picks the images to extract (gozoo run's
	// data.limit).
	subset func(*dataset.Dataset) (*dataset.Dataset, error)
}

// NewCmdExtract returns `gozoo extract`.
func NewCmdExtract(f *Factory, runF func(context.Context, *ExtractOptions) error) *cobra.Command {
	opts := &ExtractOptions{f: f}
	cmd := &cobra.Command{
		Use:   "extract (--model NAME | --arch ARCH) --layers L1,L2 --out OUT.npz (IN.npy | DIR | LIST | IDX)",
		Short: "Extract feature layers from a backbone in one forward pass per batch",
		Long: `Extract runs IN.npy (float32 [N,3,H,W] for image backbones) through the
backbone and writes OUT.npz with one float32 array per requested layer, named
exactly as the layer and shaped as PyTorch returns it (avgpool is [N,C,1,1]).
The output file appears only when every batch is done.

IN may also be images: a folder (sorted by path), an ImageFolder tree (one
sub-folder per class), a list file (PATH or PATH<TAB>LABEL a line) or an
MNIST IDX file. Images are decoded while the model computes and
preprocessed as torchvision does (--model's transform; torchvision's
ImageNet eval transform with --arch). OUT (.npz or .safetensors) then also
holds "path" and "label"; a killed run started again resumes where it
stopped. With neither --model nor --arch the embedded resnet18_w8.gozoo_fmnist
serves.

--shard i/N keeps the inputs at positions p with p % N == i, for images
and for IN.npy alike (the batch dimension: the first, or the second for
sequence-major input); a sharded .npy extract also writes "index", the
int64 input positions of its rows.`,
		Example: `  gozoo extract --arch resnet50 --weights resnet50.pth \
      --layers layer2,layer3.5.conv2,avgpool,fc --out feats.npz images.npy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runExtract(cmd.Context(), opts)
		},
	}
	opts.Model.register(cmd, true)
	opts.Images.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Layers, "layers", nil, "layers to extract, by PyTorch module name (gozoo layers ARCH lists them)")
	fl.StringVarP(&opts.Out, "out", "o", "", "output .npz file")
	fl.IntVar(&opts.BatchSize, "batch-size", 16, "rows per forward pass")
	fl.StringVar(&opts.Lengths, "lengths", "", "int64 [N] .npy of per-sequence lengths for sequence backbones (lstm, gru)")
	fl.StringVar(&opts.ONNX, "onnx", "", "any .onnx file as the backbone (plugin onnx): layers by PyTorch module path or node output name")
	fl.StringVar(&opts.Precision, "precision", "", "fp32 or int8: int8 quantizes the model first (needs --calibrate; the result is cached in $GOZOO_CACHE/quantized), or checks that --onnx is an int8 model (default: the model's own)")
	opts.Quant.register(cmd)
	return cmd
}

func (o *ExtractOptions) validate() error {
	if o.Model.Arch == "" {
		return usageErrorf("--arch is required (gozoo plugins lists the archs)")
	}
	if len(o.Layers) == 0 {
		return usageErrorf("--layers is required (gozoo layers %s lists them)", o.Model.Arch)
	}
	seen := map[string]bool{}
	for _, l := range o.Layers {
		if l == "" {
			return usageErrorf("--layers has an empty name")
		}
		if seen[l] {
			return usageErrorf("--layers names %q twice", l)
		}
		seen[l] = true
	}
	if o.Out == "" {
		return usageErrorf("--out is required")
	}
	if !strings.HasSuffix(o.Out, ".npz") {
		return usageErrorf("--out %s: only .npz output is supported", o.Out)
	}
	if o.BatchSize <= 0 {
		return usageErrorf("--batch-size %d: must be positive", o.BatchSize)
	}
	return nil
}

func runExtract(ctx context.Context, o *ExtractOptions) error {
	if err := o.applyPrecision(ctx); err != nil {
		return err
	}
	if o.ONNX != "" {
		if o.Model.Arch != "" && o.Model.Arch != "onnx" {
			return usageErrorf("--onnx and --arch %s: give one model", o.Model.Arch)
		}
		o.Model.Arch, o.Model.Plugin, o.Model.Weights = "onnx", "onnx", o.ONNX
	}
	if err := tensorFileInput(o.Input); err != nil {
		return err
	}
	if o.imageInput() {
		return runExtractImages(ctx, o)
	}
	if err := o.validate(); err != nil {
		return err
	}
	shardI, shardN := 0, 1
	if o.Images.Shard != "" {
		i, n, err := dataset.ParseShard(o.Images.Shard)
		if err != nil {
			return usageErrorf("--%v", err)
		}
		if slices.Contains(o.Layers, shardIndexName) {
			return usageErrorf("--shard writes the rows' positions as %q, which --layers also names: extract that layer without --shard", shardIndexName)
		}
		shardI, shardN = i, n
	}
	in, err := npy.ReadFile(o.Input)
	if err != nil {
		return err
	}
	if len(in.Shape) == 0 || in.Shape[0] == 0 {
		return fmt.Errorf("%s: %w: no rows (shape %s)", o.Input, sdk.ErrBadInput, sdk.FormatShape(in.Shape))
	}
	lengths, err := readLengths(o.Lengths)
	if err != nil {
		return err
	}
	model, res0, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	// Rows are the batch dimension of the model's input: the first, or the
	// second of sequence-major input ([T, N, ...]).
	axis, note := batchAxis(model, res0)
	if note != "" {
		fmt.Fprintf(o.f.Err, "note: %s\n", note)
	}
	if axis < 0 || axis >= len(in.Shape) {
		return fmt.Errorf("%s (%s): %w: %s takes the batch as dimension %d, which the input does not have",
			o.Input, describeNPY(o.Input, in), sdk.ErrBadInput, o.Model.Arch, axis)
	}
	var index *sdk.Tensor
	if shardN > 1 {
		if in, lengths, index, err = shardTensor(in, lengths, axis, shardI, shardN); err != nil {
			return fmt.Errorf("--shard %s of %s: %w", o.Images.Shard, o.Input, err)
		}
	}

	start := time.Now()
	progress := newProgress(o.f.Err, in.Shape[0])
	req := &sdk.ExtractRequest{Layers: o.Layers, Input: in, Lengths: lengths}
	var res *sdk.ExtractResponse
	if axis != 0 || !batchLeading(ctx, model, o.Layers, in.Shape) {
		// Rows are steps ([T, N, ...] input), or a layer's batch is not
		// its first dimension (h_n): one pass.
		res, err = model.Extract(ctx, req)
	} else {
		res, err = host.ExtractBatches(ctx, model, req, o.BatchSize, progress.update)
	}
	progress.done()
	if err != nil {
		return fmt.Errorf("extract %s (%s): %w", o.Input, describeNPY(o.Input, in), err)
	}
	w, err := npy.Create(o.Out)
	if err != nil {
		return err
	}
	for _, l := range o.Layers {
		t, ok := res.Outputs[l]
		if !ok {
			w.Abort()
			return fmt.Errorf("plugin returned no output for layer %q", l)
		}
		if err := w.Add(l, t); err != nil {
			w.Abort()
			return err
		}
	}
	if index != nil {
		if err := w.Add(shardIndexName, index); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	rows := int(in.Shape[axis]) // [T, N, ...]: the rows are the sequences
	if index != nil {
		rows = index.Len()
	}
	fmt.Fprintf(o.f.Err, "wrote %s: %d rows, %d layers, %.1f rows/s\n", o.Out, rows, len(o.Layers), float64(rows)/secs)
	if index != nil {
		fmt.Fprintf(o.f.Err, "shard %s: rows %s of %s are in %q\n", o.Images.Shard, formatRows(index.Int64), o.Input, shardIndexName)
	}
	return nil
}

// shardIndexName is the .npz array in which a sharded tensor extract
// records the input positions of its rows.
const shardIndexName = "index"

// tensorFileInput refuses tensor containers extract does not read as
// input, which would otherwise be taken for an image list.
func tensorFileInput(path string) error {
	l := strings.ToLower(path)
	for _, ext := range []string{".npz", ".safetensors", ".pt", ".pth"} {
		if strings.HasSuffix(l, ext) {
			return usageErrorf("input %s: extract reads one tensor from a .npy file (numpy.save), or images: save the array with numpy.save(\"x.npy\", array)", path)
		}
	}
	return nil
}

// shardTensor keeps the rows r of in along axis with r % n == i (the
// same rule as for images), with their lengths, and returns the kept
// positions as an int64 [rows] tensor.
func shardTensor(in *sdk.Tensor, lengths []int64, axis, i, n int) (*sdk.Tensor, []int64, *sdk.Tensor, error) {
	if len(in.Shape) <= axis {
		return nil, nil, nil, fmt.Errorf("%w: input of shape %s has no batch dimension %d to shard", sdk.ErrBadInput, sdk.FormatShape(in.Shape), axis)
	}
	total := in.Shape[axis]
	if lengths != nil && int64(len(lengths)) != total {
		return nil, nil, nil, fmt.Errorf("%w: %d lengths for %d rows", sdk.ErrBadInput, len(lengths), total)
	}
	var keep []int64
	for r := int64(i); r < total; r += int64(n) {
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: the shard holds no row (the input has %d)", sdk.ErrBadInput, total)
	}
	outer := sdk.NumElements(in.Shape[:axis])
	inner := sdk.NumElements(in.Shape[axis+1:])
	shape := slices.Clone(in.Shape)
	shape[axis] = int64(len(keep))
	out := &sdk.Tensor{Shape: shape}
	for o := int64(0); o < outer; o++ {
		for _, r := range keep {
			lo := (o*total + r) * inner
			if in.Int64 != nil {
				out.Int64 = append(out.Int64, in.Int64[lo:lo+inner]...)
			} else {
				out.Float32 = append(out.Float32, in.Float32[lo:lo+inner]...)
			}
		}
	}
	var lens []int64
	if lengths != nil {
		for _, r := range keep {
			lens = append(lens, lengths[r])
		}
	}
	idx, err := sdk.NewInt64Tensor([]int64{int64(len(keep))}, keep)
	return out, lens, idx, err
}

// formatRows shows row positions briefly: "0, 2, 4" or "0, 2, ..., 98".
func formatRows(rows []int64) string {
	if len(rows) <= 4 {
		s := fmt.Sprint(rows)
		return strings.ReplaceAll(strings.Trim(s, "[]"), " ", ", ")
	}
	return fmt.Sprintf("%d, %d, ..., %d", rows[0], rows[1], rows[len(rows)-1])
}

// progress prints a one-line progress report on a terminal and nothing
// elsewhere.
type progress struct {
	w     io.Writer
	total int64
	tty   bool
	start time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, total: total, tty: tty, start: time.Now()}
}

func (p *progress) update(done, total int) {
	if !p.tty {
		return
	}
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\rextract %d/%d rows  %.1f rows/s", done, total, rate)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// readLengths reads --lengths: an int64 [N] .npy, or nil when not given.
func readLengths(path string) ([]int64, error) {
	if path == "" {
		return nil, nil
	}
	t, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t.DType() != sdk.Int64 || len(t.Shape) != 1 {
		return nil, fmt.Errorf("--lengths %s: %w: want int64 [N], got %s %s (save lengths with np.save(path, lens.astype(np.int64)))",
			path, sdk.ErrBadInput, t.DType(), sdk.FormatShape(t.Shape))
	}
	return t.Int64, nil
}

// batchAxis returns the dimension of a loaded model's input that is the
// batch, as the model reports it (sdk.InputDescriber): 0 for images, 1
// for sequence-major input ([T, N, ...]). A model that does not report it
// takes the batch first; when that is because its plugin predates
// protocol minor 2, note says so.
func batchAxis(m sdk.Model, r *resolved) (axis int, note string) {
	if d, ok := m.(sdk.InputDescriber); ok {
		if in := d.Input(); len(in.Shape) > 0 {
			return in.BatchAxis, ""
		}
	}
	if r != nil && r.Desc != nil && r.Desc.ProtocolMinor < 2 {
		note = fmt.Sprintf("plugin %s speaks protocol minor %d, which does not report a model's batch axis: taking the first dimension of the input as the batch (a plugin of minor 2 or later reports it)",
			r.Plugin, r.Desc.ProtocolMinor)
	}
	return 0, note
}

// batchLeading reports whether every requested layer has the batch as its
// first dimension, so outputs of row batches can be joined along it.
func batchLeading(ctx context.Context, m sdk.Model, layers []string, shape []int64) bool {
	in := append([]int64{-1}, shape[1:]...)
	ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: in})
	if err != nil {
		return true // Extract reports the problem
	}
	for _, l := range ls {
		for _, want := range layers {
			if l.Name == want && (len(l.Shape) == 0 || l.Shape[0] != -1) {
				return false
			}
		}
	}
	return true
}

// applyPrecision handles --precision: int8 quantizes the model the flags
// name (or takes it from the cache of quantized models) and extracts
// from the int8 .onnx file instead; with --onnx it checks the file's
// model card.
func (o *ExtractOptions) applyPrecision(ctx context.Context) error {
	given := o.Quant.given()
	switch o.Precision {
	case "", zoo.PrecisionFP32, zoo.PrecisionInt8:
	default:
		return usageErrorf("--precision %q: use fp32 or int8", o.Precision)
	}
	if o.Precision != zoo.PrecisionInt8 && len(given) > 0 {
		return usageErrorf("%s quantize the model: give --precision int8 too", strings.Join(given, ", "))
	}
	if o.ONNX != "" {
		card, err := zoo.ReadCard(o.ONNX)
		if err != nil {
			return err
		}
		int8 := card != nil && card.Precision == zoo.PrecisionInt8
		switch {
		case o.Precision == zoo.PrecisionInt8 && !int8:
			return usageErrorf("--precision int8: %s is not an int8 model (its model card %s does not say so): make one with gozoo quantize --onnx %s, or drop --precision", o.ONNX, zoo.CardPath(o.ONNX), o.ONNX)
		case o.Precision == zoo.PrecisionFP32 && int8:
			return usageErrorf("--precision fp32: %s is an int8 model (%s): extract its float model, or drop --precision", o.ONNX, zoo.CardPath(o.ONNX))
		case int8 && len(given) > 0:
			return usageErrorf("%s is already int8: drop %s", o.ONNX, strings.Join(given, ", "))
		}
		return nil
	}
	if o.Precision != zoo.PrecisionInt8 {
		return nil
	}
	// A model that is int8 already (an int8 catalog entry or card) runs
	// as it is.
	if p, err := declaredPrecision(&o.Images.catalogFlags, o.Model.Weights); err != nil {
		return err
	} else if p == zoo.PrecisionInt8 {
		if len(given) > 0 {
			return usageErrorf("the model is int8 already: drop %s", strings.Join(given, ", "))
		}
		return nil
	}
	q := &QuantizeOptions{f: o.f, Model: o.Model, Catalog: o.Images.catalogFlags, Tf: o.Images.transformFlags,
		Layers: o.Layers, Quant: o.Quant, Dataset: "auto", Workers: max(1, o.Images.Workers), BatchSize: o.BatchSize}
	path, err := q.quantized(ctx)
	if err != nil {
		return err
	}
	o.ONNX = path
	o.Model = modelFlags{Device: o.Model.Device, Threads: o.Model.Threads}
	o.Images.Model = ""
	return nil
}

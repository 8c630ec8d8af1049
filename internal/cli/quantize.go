package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/quant"
	"github.com/gozoo/gozoo/zoo"
	"github.com/spf13/cobra"
)

// QuantizeOptions configures gozoo quantize.
type QuantizeOptions struct {
	f       *Factory
	Model   modelFlags
	Catalog catalogFlags
	Tf      transformFlags
	// ONNX names a float .onnx file to quantize instead of a model.
	ONNX      string
	Layers    []string
	Quant     quantFlags
	Dataset   string
	Workers   int
	BatchSize int
	Out       string
}

// quantFlags are the quantization settings quantize, extract and serve
// share.
type quantFlags struct {
	Calibrate   string
	Method      string
	Percentile  float64
	KeepFP32    []string
	Images      int
	Holdout     float64
	Activations string
	FullRange   bool

	changed func(string) bool
}

func (q *quantFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&q.Calibrate, "calibrate", "", "calibration images (a folder, ImageFolder tree, list or IDX file, preprocessed as the model's inputs) or a float32 .npy of inputs")
	fl.StringVar(&q.Method, "method", "minmax", "calibration method: minmax, percentile or entropy")
	fl.Float64Var(&q.Percentile, "percentile", quant.DefaultPercentile, "share of values the percentile method covers, in percent")
	fl.StringSliceVar(&q.KeepFP32, "keep-fp32", nil, "module patterns that stay float32, e.g. 'fc,layer4.2.*' (a module's adds count as its children)")
	fl.IntVar(&q.Images, "calibrate-images", 512, "most calibration images, spread evenly over the set")
	fl.Float64Var(&q.Holdout, "holdout", 0.2, "share of the calibration images held out to compare int8 with fp32 (0: compare on the calibration images)")
	fl.StringVar(&q.Activations, "activations", "uint8", "activation type: uint8 (ONNX Runtime's fast x86 kernels) or int8")
	fl.BoolVar(&q.FullRange, "full-range-weights", false, "int8 weights over [-127, 127] instead of [-64, 64] (only for CPUs with VNNI or ARM; x86 AVX2 saturates)")
	q.changed = func(n string) bool { return cmd.Flags().Changed(n) }
}

// quantFlagNames are the flags quantFlags registers besides --calibrate.
var quantFlagNames = []string{"method", "percentile", "keep-fp32", "calibrate-images", "holdout", "activations", "full-range-weights"}

func (q *quantFlags) validate() error {
	switch {
	case q.Calibrate == "":
		return usageErrorf("--calibrate is required: a folder of images (or a list, IDX or .npy file) like the model's inputs")
	case !slices.Contains(zoo.CalibrationMethods, q.Method):
		return usageErrorf("--method %q: use minmax, percentile or entropy", q.Method)
	case !(q.Percentile > 50 && q.Percentile <= 100):
		return usageErrorf("--percentile %g: give a share in percent above 50 and at most 100, e.g. 99.99", q.Percentile)
	case q.Images < 1:
		return usageErrorf("--calibrate-images %d: want 1 or more", q.Images)
	case q.Holdout < 0 || q.Holdout >= 1:
		return usageErrorf("--holdout %g: want a share from 0 up to (not including) 1", q.Holdout)
	case q.Activations != "uint8" && q.Activations != "int8":
		return usageErrorf("--activations %q: use uint8 or int8", q.Activations)
	}
	if q.Method != "percentile" && q.changed != nil && q.changed("percentile") {
		return usageErrorf("--percentile is for --method percentile, not %s", q.Method)
	}
	return nil
}

// given returns the quantization flags set on the command line.
func (q *quantFlags) given() []string {
	var out []string
	if q.changed == nil {
		return nil
	}
	for _, n := range append([]string{"calibrate"}, quantFlagNames...) {
		if q.changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}

// NewCmdQuantize returns `gozoo quantize`.
func NewCmdQuantize(f *Factory, runF func(context.Context, *QuantizeOptions) error) *cobra.Command {
	o := &QuantizeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "quantize (--model NAME | --arch ARCH --weights W | --onnx FILE) --calibrate DATA [--layers L,...] --out MODEL.int8.onnx",
		Short: "Quantize a model to int8 (post-training, static) for ONNX Runtime's integer kernels",
		Long: `Quantize exports the model's graph (with --layers, default the model's layer,
as float outputs), folds its batch norms into its convolutions, runs it on
the calibration images (preprocessed by the model's transform exactly as
extract does) and writes an int8 model: weights int8 per output channel,
activations uint8, in the QDQ form ONNX Runtime fuses into QLinearConv,
QGemm, QLinearAdd and integer pools. The output is a self-contained .onnx
file that the onnx plugin serves (gozoo extract --onnx OUT, serve --onnx
OUT), with a model card beside it (OUT without .onnx + .gozoo.json:
precision int8, calibration method, images and list sha256, the source
model's transform and classes) and a report (.quantize.json): per layer,
the cosine and largest relative difference between fp32 and int8 on the
held-out images, the sizes, and the operators ONNX Runtime runs.

--method minmax covers every value seen; percentile clips to --percentile;
entropy picks the clipping threshold with the least KL divergence. Modules
matching --keep-fp32 run in float32.`,
		Example: `  gozoo quantize --model resnet18_w8.gozoo_fmnist --calibrate train-images-idx3-ubyte.gz \
      --layers avgpool,fc --out fmnist.int8.onnx
  gozoo quantize --arch resnet50 --weights resnet50.pth --calibrate photos/ --method percentile \
      --keep-fp32 fc --layers avgpool --out resnet50.int8.onnx
  gozoo extract --onnx resnet50.int8.onnx --out feats.npz photos/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runQuantize(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	o.Catalog.register(cmd, "catalog model to quantize, e.g. resnet50.tv_in1k (default with neither --model, --arch nor --onnx: the embedded "+zoo.DefaultModel+")")
	o.Tf.register(cmd)
	o.Quant.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.ONNX, "onnx", "", "a float .onnx file to quantize (its model card, if any, gives the transform)")
	fl.StringSliceVar(&o.Layers, "layers", nil, "layers that stay float outputs of the int8 model (default: the model's layer)")
	fl.StringVar(&o.Dataset, "dataset", "auto", "calibration input kind: auto, folder, imagefolder, list or idx")
	fl.IntVar(&o.Workers, "workers", 2, "image decoding goroutines")
	fl.IntVar(&o.BatchSize, "batch-size", 8, "rows per forward pass while calibrating (each keeps every quantized tensor of its rows in memory)")
	fl.StringVarP(&o.Out, "out", "o", "", "output .onnx file (its card and report are written beside it)")
	return cmd
}

func runQuantize(ctx context.Context, o *QuantizeOptions) error {
	if o.Out == "" || !strings.HasSuffix(o.Out, ".onnx") {
		return usageErrorf("--out %q: give the .onnx file to write, e.g. model.int8.onnx", o.Out)
	}
	j, err := o.plan(ctx)
	if err != nil {
		return err
	}
	rep, err := j.run(ctx, o.Out)
	if err != nil {
		return err
	}
	rep.print(o.f.Err)
	return nil
}

// quantJob is a quantization with its model, layers and calibration set
// resolved, before any heavy work.
type quantJob struct {
	o      *QuantizeOptions
	spec   *modelSpec
	layers []string
	// The calibration set: images (ds, with tf) or rows of a tensor.
	ds      *dataset.Dataset
	tensor  *sdk.Tensor
	listSHA string
	calib   []int // positions calibrated on
	holdout []int // positions compared on
	baseSHA string
}

// plan resolves the model, its transform and layers, and picks the
// calibration and held-out images.
func (o *QuantizeOptions) plan(ctx context.Context) (*quantJob, error) {
	if err := o.Quant.validate(); err != nil {
		return nil, err
	}
	if o.BatchSize < 1 {
		return nil, usageErrorf("--batch-size %d: want 1 or more", o.BatchSize)
	}
	seen := map[string]bool{}
	for _, l := range o.Layers {
		if l == "" || seen[l] {
			return nil, usageErrorf("--layers names %q twice or empty", l)
		}
		seen[l] = true
	}
	if o.ONNX != "" {
		if o.Model.Arch != "" && o.Model.Arch != "onnx" || o.Catalog.Model != "" || o.Model.Weights != "" {
			return nil, usageErrorf("--onnx %s is the model: drop --model, --arch and --weights", o.ONNX)
		}
		o.Model.Arch, o.Model.Plugin, o.Model.Weights = "onnx", "onnx", o.ONNX
	}
	if o.Catalog.Model == "" && o.Model.Arch == "" && o.Model.Weights == "" {
		o.Catalog.Model = zoo.DefaultModel
		fmt.Fprintf(o.f.Err, "no --model, --arch or --onnx: quantizing the embedded %s\n", zoo.DefaultModel)
	}
	spec, err := o.f.resolveSpec(ctx, &o.Model, &o.Catalog, &o.Tf)
	if err != nil {
		return nil, err
	}
	if spec.Card != nil && spec.Card.Precision == zoo.PrecisionInt8 {
		return nil, usageErrorf("%s is already int8 (%s): quantize its float model", o.Model.Weights, spec.Source)
	}
	j := &quantJob{o: o, spec: spec, layers: o.Layers}
	if len(j.layers) == 0 {
		if spec.Layer == "" {
			return nil, usageErrorf("--layers is required: %s records no default layer (gozoo layers lists them)", spec.Source)
		}
		j.layers = []string{spec.Layer}
		fmt.Fprintf(o.f.Err, "layers: %s (the model's default; --layers picks others)\n", spec.Layer)
	}
	if o.Model.Weights != "" {
		if j.baseSHA, err = fileSHA256(o.Model.Weights); err != nil {
			return nil, fmt.Errorf("weights %s: %w", o.Model.Weights, err)
		}
	}
	n := 0
	if strings.HasSuffix(strings.ToLower(o.Quant.Calibrate), ".npy") {
		if j.tensor, err = npy.ReadFile(o.Quant.Calibrate); err != nil {
			return nil, err
		}
		if j.tensor.DType() != sdk.Float32 || len(j.tensor.Shape) < 2 || j.tensor.Shape[0] == 0 {
			return nil, fmt.Errorf("--calibrate %s: %w: want float32 [N, ...] inputs, got %s", o.Quant.Calibrate, sdk.ErrBadInput, describeNPY(o.Quant.Calibrate, j.tensor))
		}
		if j.listSHA, err = fileSHA256(o.Quant.Calibrate); err != nil {
			return nil, err
		}
		n = int(j.tensor.Shape[0])
	} else {
		if j.ds, err = dataset.OpenKind(o.Quant.Calibrate, o.Dataset); err != nil {
			return nil, err
		}
		n = len(j.ds.Samples)
		if n == 0 {
			return nil, fmt.Errorf("--calibrate %s: %w: no images", o.Quant.Calibrate, sdk.ErrBadInput)
		}
	}
	// Spread the images taken over the set (an ImageFolder tree is sorted
	// by class), then hold every k-th out.
	take := min(n, o.Quant.Images)
	for i := 0; i < take; i++ {
		p := i * n / take
		if int(float64(i+1)*o.Quant.Holdout) > int(float64(i)*o.Quant.Holdout) {
			j.holdout = append(j.holdout, p)
		} else {
			j.calib = append(j.calib, p)
		}
	}
	if len(j.calib) == 0 {
		j.calib, j.holdout = j.holdout, nil
	}
	if j.ds != nil {
		h := sha256.New()
		for _, p := range j.calib {
			s := j.ds.Samples[p]
			fmt.Fprintf(h, "%d\t%s\t%d\n", s.Index, s.Path, s.Label)
		}
		j.listSHA = hex.EncodeToString(h.Sum(nil))
	}
	return j, nil
}

// key identifies what the job would write, for the cache of quantized
// models that extract and serve keep.
func (j *quantJob) key() string {
	o := j.o
	h := sha256.New()
	opts, _ := parseOpts(o.Model.Opts)
	fmt.Fprintf(h, "quant 1\n%s\n%s\n%s\n%v\n%s\n", j.spec.ID, o.Model.Arch, j.baseSHA, opts, j.spec.Pre)
	fmt.Fprintf(h, "%v\n%s %g %v %s %v %v\n", j.layers, o.Quant.Method, o.Quant.Percentile, o.Quant.KeepFP32, o.Quant.Activations, o.Quant.FullRange, o.Model.Seed)
	fmt.Fprintf(h, "%s %v %v\n", j.listSHA, j.calib, j.holdout)
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// inputs returns the images at positions as batches of the model's input.
func (j *quantJob) inputs(ctx context.Context, positions []int) ([]*sdk.Tensor, error) {
	var x *sdk.Tensor
	if j.tensor != nil {
		per := sdk.NumElements(j.tensor.Shape[1:])
		x = &sdk.Tensor{Shape: append([]int64{int64(len(positions))}, j.tensor.Shape[1:]...)}
		for _, p := range positions {
			x.Float32 = append(x.Float32, j.tensor.Float32[int64(p)*per:int64(p+1)*per]...)
		}
	} else {
		tf, err := j.spec.Pre.Transform()
		if err != nil {
			return nil, usageErrorf("preprocessing: %v", err)
		}
		sub := &dataset.Dataset{Kind: j.ds.Kind, Classes: j.ds.Classes}
		for _, p := range positions {
			sub.Samples = append(sub.Samples, j.ds.Samples[p])
		}
		if x, _, err = dataset.Tensor(ctx, sub, tf, j.o.Workers); err != nil {
			return nil, fmt.Errorf("--calibrate %s: %w", j.o.Quant.Calibrate, err)
		}
	}
	var out []*sdk.Tensor
	for i := int64(0); i < x.Shape[0]; i += int64(j.o.BatchSize) {
		b, err := x.Rows(i, min(i+int64(j.o.BatchSize), x.Shape[0]))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// floatModel returns the float ONNX graph with the job's layers as its
// outputs: the model exported by its plugin, or the --onnx file.
func (j *quantJob) floatModel(ctx context.Context, dir string) ([]byte, error) {
	o := j.o
	if o.ONNX != "" {
		data, err := os.ReadFile(o.ONNX)
		if err != nil {
			return nil, err
		}
		return quant.SetOutputs(data, j.layers)
	}
	m, r, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	ex, ok := m.(sdk.Exporter)
	if !ok {
		return nil, fmt.Errorf("plugin %s cannot export %s as ONNX (%w): quantize a model of a Go plugin (resnet, vgg, inception, ...), or export it with gozoo bridge export and quantize the .onnx file with --onnx",
			r.Plugin, o.Model.Arch, sdk.ErrUnsupported)
	}
	path := filepath.Join(dir, "float.onnx")
	if _, err := ex.Export(ctx, &sdk.ExportRequest{Path: path, Format: sdk.FormatONNX, Layers: j.layers}); err != nil {
		return nil, fmt.Errorf("export %s from plugin %s: %w", o.Model.Arch, r.Plugin, err)
	}
	return os.ReadFile(path)
}

// QuantizeReport is what gozoo quantize prints and writes beside its
// output as JSON.
type QuantizeReport struct {
	Model       string  `json:"model"`
	Output      string  `json:"output"`
	Card        string  `json:"card"`
	Method      string  `json:"method"`
	Percentile  float64 `json:"percentile,omitempty"`
	Activations string  `json:"activations"`
	Weights     string  `json:"weights"`
	// CalibrationImages were calibrated on; Compared are the images the
	// layers were compared on: HeldOut of them, or the calibration
	// images when none were held out.
	CalibrationImages int    `json:"calibration_images"`
	HeldOut           int    `json:"held_out_images"`
	ComparedOn        string `json:"compared_on"`
	ListSHA256        string `json:"list_sha256"`
	// Layers compares fp32 and int8 outputs per requested layer.
	Layers   []quant.LayerDiff `json:"layers"`
	SizeFP32 int64             `json:"size_fp32_bytes"`
	SizeInt8 int64             `json:"size_int8_bytes"`
	// Graph says what was quantized; RuntimeOps what ONNX Runtime runs
	// the int8 model as after its fusions, and FloatOps the compute
	// operators among them that run in float32.
	Graph      quant.Summary  `json:"graph"`
	RuntimeOps map[string]int `json:"runtime_ops"`
	FloatOps   map[string]int `json:"float_ops"`
	Seconds    float64        `json:"seconds"`
}

// floatCompute are operators that compute in float32 when ONNX Runtime
// leaves them in a quantized graph.
var floatCompute = []string{"Conv", "FusedConv", "Gemm", "MatMul", "FusedMatMul", "Add", "Mul", "Sum", "AveragePool", "GlobalAveragePool", "MaxPool", "Concat", "BatchNormalization", "ConvTranspose"}

// run quantizes into out, writes the model card and the report beside it
// and returns the report.
func (j *quantJob) run(ctx context.Context, out string) (*QuantizeReport, error) {
	start := time.Now()
	o := j.o
	dir, err := os.MkdirTemp("", "gozoo-quantize-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	float, err := j.floatModel(ctx, dir)
	if err != nil {
		return nil, err
	}
	var sess []ort.Option
	if o.Model.Threads > 0 {
		sess = append(sess, ort.WithThreads(o.Model.Threads))
	}
	q, err := quant.Prepare(float, quant.Options{Method: quant.Method(o.Quant.Method), Percentile: o.Quant.Percentile,
		KeepFP32: o.Quant.KeepFP32, Activations: quant.Activation(o.Quant.Activations), FullRangeWeights: o.Quant.FullRange, Session: sess})
	if err != nil {
		return nil, err
	}
	calib, err := j.inputs(ctx, j.calib)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.f.Err, "calibrating on %d images (%s, %s)\n", len(j.calib), o.Quant.Method, o.Quant.Calibrate)
	if err := q.Calibrate(ctx, calib); err != nil {
		return nil, err
	}
	int8, err := q.Model()
	if err != nil {
		return nil, err
	}
	compare, on := calib, "calibration images (--holdout 0 or too few images)"
	if len(j.holdout) > 0 {
		if compare, err = j.inputs(ctx, j.holdout); err != nil {
			return nil, err
		}
		on = "held-out images"
	}
	diffs, err := quant.Compare(ctx, float, int8, q.Input(), compare, j.layers, sess...)
	if err != nil {
		return nil, err
	}
	ops, err := quant.RuntimeOps(int8, dir, sess...)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(out, int8); err != nil {
		return nil, err
	}
	wdesc := "int8 per output channel, [-64, 64]"
	if o.Quant.FullRange {
		wdesc = "int8 per output channel, [-127, 127]"
	}
	base := j.spec.Source
	if o.Model.Weights != "" && j.spec.Entry == nil {
		base = o.Model.Weights
	}
	cal := &zoo.Calibration{Method: o.Quant.Method, Images: len(j.calib), ListSHA256: j.listSHA, Source: o.Quant.Calibrate,
		Base: base, BaseSHA256: j.baseSHA, Activations: o.Quant.Activations, Weights: wdesc, KeepFP32: o.Quant.KeepFP32}
	if o.Quant.Method == "percentile" {
		cal.Percentile = o.Quant.Percentile
	}
	layer := j.layers[0]
	if slices.Contains(j.layers, j.spec.Layer) {
		layer = j.spec.Layer
	}
	card := &zoo.ModelCard{Arch: "onnx", Plugin: "onnx", Classes: j.spec.Classes, ClassesSource: j.spec.ClassesSource,
		Preprocess: j.spec.Pre, Layer: layer, Precision: zoo.PrecisionInt8, Calibration: cal}
	if err := zoo.WriteCard(out, card); err != nil {
		return nil, err
	}
	rep := &QuantizeReport{Model: o.Model.Arch + " (" + j.spec.Source + ")", Output: out, Card: zoo.CardPath(out),
		Method: o.Quant.Method, Percentile: cal.Percentile, Activations: o.Quant.Activations, Weights: wdesc,
		CalibrationImages: len(j.calib), HeldOut: len(j.holdout), ComparedOn: on, ListSHA256: j.listSHA,
		Layers: diffs, SizeFP32: int64(len(float)), SizeInt8: int64(len(int8)), Graph: q.Summary(), RuntimeOps: ops,
		FloatOps: map[string]int{}, Seconds: time.Since(start).Seconds()}
	for _, op := range floatCompute {
		if ops[op] > 0 {
			rep.FloatOps[op] = ops[op]
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(reportPath(out), append(b, '\n')); err != nil {
		return nil, err
	}
	return rep, nil
}

// reportPath is where quantize writes its report: OUT without .onnx,
// plus .quantize.json.
func reportPath(out string) string {
	return strings.TrimSuffix(out, ".onnx") + ".quantize.json"
}

// print writes the report for people.
func (r *QuantizeReport) print(w io.Writer) {
	fmt.Fprintf(w, "wrote %s: %s, %.2f MB fp32 -> %.2f MB int8 (%.1fx smaller)\n", r.Output, r.Model,
		float64(r.SizeFP32)/1e6, float64(r.SizeInt8)/1e6, float64(r.SizeFP32)/float64(max(r.SizeInt8, 1)))
	fmt.Fprintf(w, "calibration: %s on %d images (list sha256 %s); compared on %d %s\n", r.Method, r.CalibrationImages, r.ListSHA256[:12], r.Layers[0].Rows, r.ComparedOn)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tCOSINE MEAN\tCOSINE MIN\tMAX REL DIFF")
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%s\t%.5f\t%.5f\t%.4f\n", l.Layer, l.CosineMean, l.CosineMin, l.MaxRelDiff)
	}
	tw.Flush()
	fmt.Fprintf(w, "quantized: %s; %d batch norms folded\n", quant.FormatOps(r.Graph.Quantized), r.Graph.Folded)
	if len(r.Graph.Kept) > 0 {
		fmt.Fprintf(w, "kept fp32: %s\n", fewNames(r.Graph.Kept, 8))
	}
	fmt.Fprintf(w, "ONNX Runtime runs: %s\n", quant.FormatOps(r.RuntimeOps))
	if len(r.FloatOps) > 0 {
		fmt.Fprintf(w, "in float32: %s\n", quant.FormatOps(r.FloatOps))
	}
	fmt.Fprintf(w, "model card %s, report %s\n", r.Card, reportPath(r.Output))
}

// writeFileAtomic writes data to path through a temporary file in the
// same folder, renamed over it: readers see the old file or the new one,
// and two writers do not mix.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// quantized returns an int8 model for the flags, from the cache of
// quantized models ($GOZOO_CACHE/quantized) or made now and kept there,
// for extract and serve --precision int8.
func (o *QuantizeOptions) quantized(ctx context.Context) (string, error) {
	j, err := o.plan(ctx)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(zoo.DefaultCacheDir(), "quantized")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("quantized models cache: %w (set GOZOO_CACHE to a writable folder)", err)
	}
	path := filepath.Join(dir, j.key()+".int8.onnx")
	if card, err := zoo.ReadCard(path); err == nil && card != nil && card.Precision == zoo.PrecisionInt8 {
		fmt.Fprintf(o.f.Err, "int8: %s (made earlier from the same model, layers and calibration; report %s)\n", path, reportPath(path))
		return path, nil
	}
	rep, err := j.run(ctx, path)
	if err != nil {
		return "", err
	}
	rep.print(o.f.Err)
	return path, nil
}

// declaredPrecision returns the precision a model records: its catalog
// entry's (c.Model), else the model card's beside weights; "" when
// neither says.
func declaredPrecision(c *catalogFlags, weights string) (string, error) {
	if c.Model != "" {
		cat, err := loadCatalog(c.Catalogs)
		if err != nil {
			return "", err
		}
		e, err := cat.Lookup(c.Model)
		if err != nil {
			return "", err
		}
		return e.Precision, nil
	}
	if weights == "" {
		return "", nil
	}
	card, err := zoo.ReadCard(weights)
	if err != nil || card == nil {
		return "", err
	}
	return card.Precision, nil
}

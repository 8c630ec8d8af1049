package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// BridgeExportOptions configures gozoo bridge export.
type BridgeExportOptions struct {
	f          *Factory
	Module     string
	ModulePath string
	Arch       string
	Checkpoint string
	InputShape []int
	InputDType string
	Inputs     []string // NAME:DTYPE:SHAPE, one per forward argument
	IntRange   int64
	Layers     []string
	Out        string
	Opset      int
	RTol       float64
	Seed       int64
}

// BridgeImportOptions configures gozoo bridge import.
type BridgeImportOptions struct {
	f          *Factory
	Checkpoint string
	Model      modelFlags
	InputShape []int
	Layers     []string
	Out        string
	RTol       float64
	Name       string
	Catalog    string

	card *zoo.ModelCard // the checkpoint's model card, or nil
}

// NewCmdBridge returns `gozoo bridge` with its export and import commands.
func NewCmdBridge(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Move PyTorch models into gozoo: export to ONNX, import checkpoints, with parity reports",
	}
	cmd.AddCommand(NewCmdBridgeExport(f, nil), NewCmdBridgeImport(f, nil))
	return cmd
}

// NewCmdBridgeExport returns `gozoo bridge export`.
func NewCmdBridgeExport(f *Factory, runF func(context.Context, *BridgeExportOptions) error) *cobra.Command {
	o := &BridgeExportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "export (--module PKG.MOD:FACTORY | --arch ARCH) (--input-shape N,C,H,W [--input-dtype int64] | --input NAME:DTYPE:SHAPE ...) --out MODEL.onnx",
		Short: "Export a PyTorch model to ONNX through the torch plugin and check it layer by layer",
		Long: `Export loads your nn.Module (--module, importable from --module-path) or a
torchvision arch in the torch plugin, with --checkpoint's state_dict, writes
ONNX (opset 17, dynamic batch, one named output per --layers entry), then
runs the same seeded input through PyTorch and through the ONNX file on
gozoo's ONNX Runtime (plugin onnx), and writes a parity report beside the
file: OUT.parity.json and OUT.parity.md. It fails when a layer differs by
more than --rtol * max(1, max |PyTorch|).

The model's input is --input-shape with --input-dtype: float32, or int64
for token ids feeding an nn.Embedding. A model whose forward takes several
arguments gets one --input NAME:DTYPE:SHAPE per argument, in order; the
ONNX graph's inputs carry those names and a dynamic first (batch)
dimension. int64 parity inputs are drawn from [0, --int-range).`,
		Example: `  gozoo bridge export --module mynet.model:build --module-path src \
      --checkpoint mynet.pth --input-shape 1,3,224,224 --layers block3,head --out mynet.onnx
  gozoo bridge export --module textnet:build --module-path src \
      --input-shape 2,12 --input-dtype int64 --int-range 1000 --out textnet.onnx
  gozoo bridge export --module fused:build --module-path src \
      --input tokens:int64:2,12 --input feats:float32:2,4 --out fused.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runBridgeExport(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Module, "module", "", "factory of your model, package.module:function")
	fl.StringVar(&o.ModulePath, "module-path", "", "folder to import --module's package from")
	fl.StringVar(&o.Arch, "arch", "", "a torchvision arch instead of --module")
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "state_dict .pth to load (default: seeded random init)")
	fl.IntSliceVar(&o.InputShape, "input-shape", nil, "example input shape, e.g. 1,3,224,224")
	fl.StringVar(&o.InputDType, "input-dtype", "float32", "dtype of --input-shape's input: float32, or int64 for token ids")
	fl.StringArrayVar(&o.Inputs, "input", nil, "one model input as NAME:DTYPE:SHAPE, e.g. tokens:int64:2,12; repeat it for each forward argument, in order (instead of --input-shape)")
	fl.Int64Var(&o.IntRange, "int-range", 2, "int64 parity inputs are drawn from [0, N): at most the embedding's number of rows")
	fl.StringSliceVar(&o.Layers, "layers", nil, "module paths to export as named outputs and compare (default: every layer)")
	fl.StringVarP(&o.Out, "out", "o", "", "output .onnx file")
	fl.IntVar(&o.Opset, "opset", 17, "ONNX opset")
	fl.Float64Var(&o.RTol, "rtol", 1e-4, "parity tolerance, relative to max(1, max |PyTorch|)")
	fl.Int64Var(&o.Seed, "seed", 0, "seed of the random init and the parity input")
	return cmd
}

// NewCmdBridgeImport returns `gozoo bridge import`.
func NewCmdBridgeImport(f *Factory, runF func(context.Context, *BridgeImportOptions) error) *cobra.Command {
	o := &BridgeImportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "import CHECKPOINT.pth --arch ARCH",
		Short: "Check a PyTorch checkpoint against a Go arch and compare it with PyTorch",
		Long: `Import loads CHECKPOINT into the Go plugin offering --arch, which matches
every key and shape strictly; when the torch plugin is installed it runs the
same input through PyTorch and writes a parity report (CHECKPOINT.parity.json
and .md, or under --out). It then adds a catalog entry naming the checkpoint,
its plugin, arch, options and sha256 to the user catalog (or --catalog), so
that gozoo extract --model NAME serves it.`,
		Example: `  gozoo bridge import finetuned.pth --arch resnet50 --num-classes 37`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Checkpoint = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runBridgeImport(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	fl := cmd.Flags()
	fl.MarkHidden("weights") // the checkpoint is the argument
	fl.IntSliceVar(&o.InputShape, "input-shape", []int{2, 3, 64, 64}, "parity input shape")
	fl.StringSliceVar(&o.Layers, "layers", nil, "layers to compare (default: every layer)")
	fl.StringVarP(&o.Out, "out", "o", "", "base path of the reports (default: beside the checkpoint)")
	fl.StringVar(&o.Name, "name", "", "catalog name of the model (default: FILE.local)")
	fl.StringVar(&o.Catalog, "catalog", "", "catalog file to add the entry to (default: the user catalog, ~/.config/gozoo/zoo.yaml)")
	fl.Float64Var(&o.RTol, "rtol", 1e-4, "parity tolerance, relative to max(1, max |PyTorch|)")
	return cmd
}

func shape64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// inputSpecs returns the model's inputs from --input, or from
// --input-shape and --input-dtype.
func (o *BridgeExportOptions) inputSpecs() ([]inputSpec, error) {
	if len(o.Inputs) > 0 {
		if len(o.InputShape) > 0 {
			return nil, usageErrorf("give --input-shape or --input, not both")
		}
		return parseInputSpecs(o.Inputs)
	}
	if len(o.InputShape) < 2 {
		return nil, usageErrorf("--input-shape is required, e.g. 1,3,224,224 (or one --input NAME:DTYPE:SHAPE per input)")
	}
	for _, d := range o.InputShape {
		if d < 1 {
			return nil, usageErrorf("--input-shape %v: dimensions must be positive", o.InputShape)
		}
	}
	dt, err := parseDType(o.InputDType)
	if err != nil {
		return nil, usageErrorf("--input-dtype: %v", err)
	}
	return []inputSpec{{Name: "input", DType: dt, Shape: shape64(o.InputShape)}}, nil
}

func runBridgeExport(ctx context.Context, o *BridgeExportOptions) error {
	switch {
	case (o.Module == "") == (o.Arch == ""):
		return usageErrorf("give one of --module PKG.MOD:FACTORY or --arch ARCH")
	case !strings.HasSuffix(o.Out, ".onnx"):
		return usageErrorf("--out must name a .onnx file")
	case o.RTol <= 0:
		return usageErrorf("--rtol %g: must be positive", o.RTol)
	case o.IntRange < 1:
		return usageErrorf("--int-range %d: must be positive", o.IntRange)
	}
	specs, err := o.inputSpecs()
	if err != nil {
		return err
	}
	shape := specs[0].Shape
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	opt := "input_shape=" + strings.Join(dims, ",")
	if len(specs) > 1 || specs[0].DType != sdk.Float32 {
		parts := make([]string, len(specs))
		for i, s := range specs {
			parts[i] = s.String()
		}
		opt = "inputs=" + strings.Join(parts, ";")
	}
	mf := &modelFlags{Arch: o.Arch, Plugin: "torch", Weights: o.Checkpoint, Seed: o.Seed, Opts: []string{opt}}
	if o.Module != "" {
		path := o.ModulePath
		if path != "" {
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			path = abs
		}
		mf.Arch = "module"
		mf.Opts = append(mf.Opts, "factory="+o.Module, "path="+path)
	}
	if mf.Weights != "" {
		abs, err := filepath.Abs(mf.Weights)
		if err != nil {
			return err
		}
		mf.Weights = abs
	}
	tm, r, err := o.f.load(ctx, mf)
	if err != nil {
		return err
	}
	defer tm.Close()
	ex, ok := tm.(sdk.Exporter)
	if !ok || !r.Desc.Capabilities.Export {
		return fmt.Errorf("%w: plugin %s cannot export", sdk.ErrUnsupported, r.Plugin)
	}
	layers := o.Layers
	if len(layers) == 0 {
		ls, err := tm.Layers(ctx, &sdk.LayersRequest{InputShape: shape})
		if err != nil {
			return err
		}
		for _, l := range ls {
			layers = append(layers, l.Name)
		}
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	// Extra outputs only for the layers asked for: "every layer" stays
	// reachable through module scopes without bloating the file.
	if _, err := ex.Export(ctx, &sdk.ExportRequest{Path: out, Format: sdk.FormatONNX, Layers: o.Layers, Opset: o.Opset}); err != nil {
		return fmt.Errorf("export %s: %w", o.Out, err)
	}
	fmt.Fprintf(o.f.Err, "wrote %s\n", o.Out)
	model := o.Module
	if model == "" {
		model = o.Arch
	}
	rep, err := o.f.parity(ctx, tm, &modelFlags{Arch: "onnx", Plugin: "onnx", Weights: out}, layers, specs, o.Seed, o.IntRange, o.RTol)
	if err != nil {
		for _, s := range specs {
			if s.DType == sdk.Int64 {
				return fmt.Errorf("%w (int64 inputs were drawn from [0, %d): lower --int-range to the embedding's number of rows)", err, o.IntRange)
			}
		}
		return err
	}
	rep.Model, rep.Reference, rep.Candidate = model, "PyTorch (plugin torch)", "ONNX Runtime on "+filepath.Base(o.Out)+" (plugin onnx)"
	return o.f.finishReport(rep, strings.TrimSuffix(o.Out, ".onnx")+".parity")
}

// parity runs seeded inputs made from specs through the reference model
// and the candidate loaded from cand, layer by layer. Layers the candidate
// does not have (modules export folded away) are reported as such.
func (f *Factory) parity(ctx context.Context, ref sdk.Model, cand *modelFlags, layers []string, specs []inputSpec, seed, intRange int64, rtol float64) (*bridge.ParityReport, error) {
	cm, _, err := f.load(ctx, cand)
	if err != nil {
		return nil, err
	}
	defer cm.Close()
	shape := specs[0].Shape
	x, more := randomInputs(specs, seed, intRange)
	want, err := ref.Extract(ctx, &sdk.ExtractRequest{Layers: layers, Input: x, Inputs: more})
	if err != nil {
		return nil, fmt.Errorf("parity: reference run: %w", err)
	}
	rep := &bridge.ParityReport{Input: shape, RTol: rtol, Created: time.Now().UTC()}
	if len(specs) > 1 || specs[0].DType != sdk.Float32 {
		for _, s := range specs {
			rep.Inputs = append(rep.Inputs, s.Name+" "+s.DType.String()+sdk.FormatShape(s.Shape))
		}
	}
	cls, err := cm.Layers(ctx, &sdk.LayersRequest{InputShape: shape})
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, l := range cls {
		have[l.Name] = true
	}
	var common []string
	for _, l := range layers {
		if have[l] {
			common = append(common, l)
		} else if w := want.Outputs[l]; w != nil {
			rep.Layers = append(rep.Layers, bridge.LayerParity{Layer: l, Shape: w.Shape, Pass: true,
				Error: "not in the candidate graph (folded at export); its enclosing module is compared"})
		}
	}
	got, err := cm.Extract(ctx, &sdk.ExtractRequest{Layers: common, Input: x, Inputs: more})
	if err != nil {
		return nil, fmt.Errorf("parity: candidate run: %w", err)
	}
	for _, l := range common {
		rep.Layers = append(rep.Layers, bridge.CompareLayer(l, want.Outputs[l], got.Outputs[l], rtol))
	}
	order := map[string]int{}
	for i, l := range layers {
		order[l] = i
	}
	slices.SortStableFunc(rep.Layers, func(a, b bridge.LayerParity) int { return order[a.Layer] - order[b.Layer] })
	rep.Finish()
	return rep, nil
}

func (f *Factory) finishReport(rep *bridge.ParityReport, base string) error {
	if err := rep.WriteFiles(base); err != nil {
		return err
	}
	worst, n := 0.0, 0
	for _, l := range rep.Layers {
		if l.Error == "" {
			n++
			worst = max(worst, l.MaxAbsDiff/max(1, l.MaxAbsRef))
		}
	}
	fmt.Fprintf(f.Err, "parity: %d layers compared, worst scaled diff %.3g (tolerance %g): %s.json, %s.md\n", n, worst, rep.RTol, base, base)
	if !rep.Pass {
		return fmt.Errorf("parity check failed: see %s.md", base)
	}
	return nil
}

func runBridgeImport(ctx context.Context, o *BridgeImportOptions) error {
	card, err := zoo.ReadCard(o.Checkpoint)
	if err != nil {
		return err
	}
	if card != nil {
		cp := zoo.CardPath(o.Checkpoint)
		if o.Model.Arch == "" {
			o.Model.Arch = card.Arch
		} else if o.Model.Arch != card.Arch {
			return usageErrorf("--arch %s, but %s says the checkpoint is %s: drop --arch", o.Model.Arch, cp, card.Arch)
		}
		if err := o.Model.addOpts(card.Options); err != nil {
			return err
		}
		o.card = card
		fmt.Fprintf(o.f.Err, "model card %s: arch %s, options %v, %d classes, transform %s\n", cp, card.Arch, o.Model.Opts, len(card.Classes), card.Preprocess)
	} else {
		fmt.Fprintf(o.f.Err, "no model card beside %s (%s): the entry gets torchvision's ImageNet eval transform and no classes\n", o.Checkpoint, zoo.CardPath(o.Checkpoint))
	}
	if o.Model.Arch == "" {
		return usageErrorf("--arch is required: %s has no model card (gozoo plugins lists the archs)", o.Checkpoint)
	}
	if o.Model.Weights != "" {
		return usageErrorf("--weights %s: bridge import reads the checkpoint it is given (%s); drop --weights", o.Model.Weights, o.Checkpoint)
	}
	sd, err := bridge.Load(o.Checkpoint)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(o.Checkpoint)
	if err != nil {
		return err
	}
	o.Model.Weights = abs
	given, err := parseOpts(o.Model.Opts)
	if err != nil {
		return err
	}
	prefix := given[bridge.PrefixOption]
	if o.Model.NumClasses == 0 && !hasOpt(o.Model.Opts, "num_classes") {
		for _, k := range []string{"fc.weight", "classifier.6.weight"} {
			if t := sd.Tensors[prefix+k]; t != nil && len(t.Shape) == 2 {
				o.Model.NumClasses = int(t.Shape[0])
			}
		}
	}
	// The Go plugin: the first that offers the arch, never the torch one.
	if o.Model.Plugin == "" {
		r, err := o.f.resolveExcept(ctx, o.Model.Arch, "torch")
		if err != nil {
			return err
		}
		o.Model.Plugin = r
	}
	gm, _, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return fmt.Errorf("import %s: %w", o.Checkpoint, err)
	}
	defer gm.Close()
	fmt.Fprintf(o.f.Err, "%s fits %s (plugin %s): %d tensors, every key and shape matched\n", o.Checkpoint, o.Model.Arch, o.Model.Plugin, len(sd.Tensors))
	base := o.Out
	if base == "" {
		base = strings.TrimSuffix(o.Checkpoint, filepath.Ext(o.Checkpoint))
	}
	parity := "not run: the torch plugin is not installed"
	torchFlags := o.Model
	torchFlags.Plugin = "torch"
	tm, _, terr := o.f.load(ctx, &torchFlags)
	if terr == nil {
		defer tm.Close()
		layers := o.Layers
		shape := shape64(o.InputShape)
		if len(layers) == 0 {
			ls, err := gm.Layers(ctx, &sdk.LayersRequest{InputShape: shape})
			if err != nil {
				return err
			}
			for _, l := range ls {
				layers = append(layers, l.Name)
			}
		}
		gf := o.Model
		rep, err := o.f.parity(ctx, tm, &gf, layers, []inputSpec{{Name: "input", DType: sdk.Float32, Shape: shape}}, o.Model.Seed, 2, o.RTol)
		if err != nil {
			return err
		}
		rep.Model, rep.Reference, rep.Candidate = o.Model.Arch+" "+filepath.Base(o.Checkpoint), "PyTorch (plugin torch)", "gozoo plugin "+o.Model.Plugin
		if err := o.f.finishReport(rep, base+".parity"); err != nil {
			return err
		}
		parity = "pass"
	} else {
		fmt.Fprintf(o.f.Err, "parity: skipped (%v)\n", terr)
	}
	path, err := o.addCatalogEntry(abs, parity)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.Err, "catalog: %s added to %s (gozoo zoo show %s)\n", o.entryName(), path, o.entryName())
	return nil
}

func (o *BridgeImportOptions) entryName() string {
	if o.Name != "" {
		return o.Name
	}
	return strings.TrimSuffix(filepath.Base(o.Checkpoint), filepath.Ext(o.Checkpoint)) + ".local"
}

// addCatalogEntry adds (or replaces) the checkpoint's entry in the catalog
// file --catalog (default: the user's catalog) and checks that the zoo
// reads the file back.
func (o *BridgeImportOptions) addCatalogEntry(abs, parity string) (string, error) {
	sum, err := fileSHA256(abs)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	path := o.Catalog
	if path == "" {
		path = zoo.UserCatalogPath()
	}
	if path == "" {
		return "", fmt.Errorf("no user catalog folder: give --catalog FILE")
	}
	format := strings.TrimPrefix(filepath.Ext(abs), ".")
	if format != "safetensors" {
		format = "pth"
	}
	e := &zoo.Entry{
		Name: o.entryName(), Plugin: o.Model.Plugin, Arch: o.Model.Arch,
		Doc:        fmt.Sprintf("imported by gozoo bridge import from %s; parity with PyTorch: %s", filepath.Base(abs), parity),
		Weights:    zoo.Weights{Path: abs, Format: format, SHA256: sum, Size: st.Size()},
		Preprocess: zoo.ImageNetPreprocess(),
		Layer:      "avgpool",
	}
	if c := o.card; c != nil {
		e.Preprocess, e.Classes = c.Preprocess, c.Classes
		if c.Layer != "" {
			e.Layer = c.Layer
		}
		if c.Training != nil {
			e.Doc += fmt.Sprintf("; fine-tuned by gozoo from %s on %s, epoch %d, validation accuracy %.4f", c.Training.Base, c.Training.Data, c.Training.Epoch, c.Training.ValAccuracy)
			e.Metrics = map[string]float64{"val_accuracy": c.Training.ValAccuracy}
		}
	}
	// Every option the checkpoint loaded with (strip_prefix included), so
	// that extract --model loads it the same way.
	opts, err := parseOpts(o.Model.Opts)
	if err != nil {
		return "", err
	}
	delete(opts, "reset_head")
	if o.Model.NumClasses > 0 {
		opts["num_classes"] = strconv.Itoa(o.Model.NumClasses)
	}
	if len(opts) > 0 {
		e.Options = opts
	}
	var file struct {
		Models []*zoo.Entry `yaml:"models"`
	}
	if data, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(data, &file); err != nil {
			return "", fmt.Errorf("catalog %s: %w: fix or move it, or give --catalog", path, err)
		}
	} else if !os.IsNotExist(err) {
		return "", err
	}
	file.Models = slices.DeleteFunc(file.Models, func(m *zoo.Entry) bool { return m == nil || m.Name == e.Name })
	file.Models = append(file.Models, e)
	data, err := yaml.Marshal(&file)
	if err != nil {
		return "", err
	}
	if err := zoo.New().Merge(bytes.NewReader(data), path); err != nil {
		return "", fmt.Errorf("catalog entry: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append([]byte("# gozoo catalog; bridge import adds entries\n"), data...), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// resolveExcept returns the first plugin offering arch other than skip.
func (f *Factory) resolveExcept(ctx context.Context, arch, skip string) (string, error) {
	h, err := f.Host()
	if err != nil {
		return "", err
	}
	infos, err := h.Plugins()
	if err != nil {
		return "", err
	}
	for _, in := range infos {
		if in.Name == skip {
			continue
		}
		if r, err := f.resolve(ctx, arch, in.Name); err == nil {
			return r.Plugin, nil
		}
	}
	return "", fmt.Errorf("%w: no Go plugin offers arch %q (gozoo plugins lists them)", sdk.ErrUnknownArch, arch)
}

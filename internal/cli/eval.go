package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo"
	"github.com/spf13/cobra"
)

// EvalOptions configures gozoo eval.
type EvalOptions struct {
	f         *Factory
	Model     modelFlags
	Catalog   catalogFlags
	Transform transformFlags
	Data      string
	Layer     string
	BatchSize int
	Workers   int
	Out       string
}

// EvalReport is what gozoo eval prints and writes to --out.
type EvalReport struct {
	Model           string         `json:"model"`
	Arch            string         `json:"arch"`
	Plugin          string         `json:"plugin"`
	Weights         string         `json:"weights,omitempty"`
	Layer           string         `json:"layer"`
	Data            string         `json:"data"`
	Transform       zoo.Preprocess `json:"transform"`
	TransformSource string         `json:"transform_source"`
	// Classes are the model's outputs in index order; TreeClasses the
	// tree's, in torchvision's order, each one of Classes.
	Classes       []string     `json:"classes"`
	ClassesSource string       `json:"classes_source"`
	TreeClasses   []string     `json:"tree_classes"`
	Images        int          `json:"images"`
	Correct       int          `json:"correct"`
	Top1          float64      `json:"top1"`
	Top5          float64      `json:"top5"`
	TopK          int          `json:"top_k"` // k of Top5: min(5, classes)
	MeanClassAcc  float64      `json:"mean_class_accuracy"`
	PerClass      []ClassScore `json:"per_class"`
	// Confusion[i][j] counts images of TreeClasses[i] the model labels
	// Classes[j].
	Confusion [][]int `json:"confusion"`
}

// ClassScore is one class's accuracy.
type ClassScore struct {
	Class    string  `json:"class"`
	Images   int     `json:"images"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// NewCmdEval returns `gozoo eval`.
func NewCmdEval(f *Factory, runF func(context.Context, *EvalOptions) error) *cobra.Command {
	o := &EvalOptions{f: f}
	cmd := &cobra.Command{
		Use:   "eval (--model NAME | --arch ARCH --weights W.pth) DIR",
		Short: "Classification accuracy of a model on an ImageFolder tree",
		Long: `Eval runs every image of DIR (DIR/CLASS/IMAGE) through the model with its
eval transform and reports top-1, top-5 and mean per-class accuracy and the
confusion matrix. The tree's classes are matched by name with the model's
(from the catalog entry or the model card beside the weights): a class the
model does not know is an error that lists the difference. A model without
recorded classes is assumed to follow the tree's classes in torchvision's
order, and eval says so. --out writes the report as JSON.`,
		Example: `  gozoo eval --weights runs/ft/best.pth data/val
  gozoo eval --model resnet50.tv_in1k --out report.json imagenet/val`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Data = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEval(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	o.Catalog.register(cmd, "catalog model, e.g. resnet50.tv_in1k (gozoo zoo list)")
	o.Transform.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.Layer, "layer", "", "the logits layer (default: the model's last layer)")
	fl.IntVar(&o.BatchSize, "batch-size", 32, "images per forward pass")
	fl.IntVar(&o.Workers, "workers", runtime.NumCPU(), "image decoding goroutines")
	fl.StringVarP(&o.Out, "out", "o", "", "write the report as JSON to this file")
	return cmd
}

// matchClasses returns, for each tree class, its index among the model's
// classes, or an error listing the difference.
func matchClasses(tree, model []string) ([]int, error) {
	out, unknown := dataset.ClassIndex(tree, model)
	if len(unknown) > 0 {
		_, missing := dataset.ClassIndex(model, tree)
		return nil, fmt.Errorf("the tree's classes do not match the model's: in the tree but not the model: %s; in the model but not the tree: %s (rename the folders to the model's class names)",
			quoteFew(unknown, 10), quoteFew(missing, 10))
	}
	return out, nil
}

func quoteFew(ss []string, n int) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, 0, min(n, len(ss)))
	for _, s := range ss[:min(n, len(ss))] {
		q = append(q, fmt.Sprintf("%q", s))
	}
	s := strings.Join(q, ", ")
	if len(ss) > n {
		s += fmt.Sprintf(" and %d more", len(ss)-n)
	}
	return s
}

func runEval(ctx context.Context, o *EvalOptions) error {
	if o.BatchSize < 1 {
		return usageErrorf("--batch-size %d: must be positive", o.BatchSize)
	}
	if o.Catalog.Model == "" && o.Model.Arch == "" && o.Model.Weights == "" {
		return usageErrorf("give --model NAME (gozoo zoo list) or --arch ARCH --weights W.pth")
	}
	ds, err := dataset.OpenKind(o.Data, "imagefolder")
	if err != nil {
		return fmt.Errorf("%w: eval takes an ImageFolder tree, DIR/CLASS/IMAGE", err)
	}
	spec, err := o.f.resolveSpec(ctx, &o.Model, &o.Catalog, &o.Transform)
	if err != nil {
		return err
	}
	tf, err := spec.Pre.Transform()
	if err != nil {
		return usageErrorf("transform: %v", err)
	}
	classes, source := spec.Classes, spec.ClassesSource
	if len(classes) == 0 {
		classes, source = ds.Classes, "assumed: the tree's classes in torchvision's order, as the model records none"
		fmt.Fprintf(o.f.Err, "classes: the model records none; assuming its outputs are the tree's %d classes in torchvision's order\n", len(classes))
	}
	toModel, err := matchClasses(ds.Classes, classes)
	if err != nil {
		return fmt.Errorf("eval %s: %w", o.Data, err)
	}
	if len(ds.Classes) < len(classes) {
		fmt.Fprintf(o.f.Err, "classes: the tree holds %d of the model's %d classes; predictions range over all %d\n", len(ds.Classes), len(classes), len(classes))
	}
	model, r, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	layer := o.Layer
	if layer == "" {
		ls, err := model.Layers(ctx, &sdk.LayersRequest{InputShape: append([]int64{-1}, tf.Shape()...)})
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return fmt.Errorf("%s lists no layers: give --layer", o.Model.Arch)
		}
		layer = ls[len(ls)-1].Name
		fmt.Fprintf(o.f.Err, "logits: layer %s (the model's last; --layer picks another)\n", layer)
	}
	fmt.Fprintf(o.f.Err, "eval %s (plugin %s) on %s: %d images\n", o.Model.Arch, r.Plugin, o.Data, len(ds.Samples))

	nc := len(classes)
	k := min(5, nc)
	rep := &EvalReport{Model: spec.Source, Arch: o.Model.Arch, Plugin: r.Plugin, Weights: o.Model.Weights, Layer: layer,
		Data: o.Data, Transform: spec.Pre, TransformSource: spec.PreSource, Classes: classes, ClassesSource: source,
		TreeClasses: ds.Classes, TopK: k, Confusion: make([][]int, len(ds.Classes))}
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, nc)
	}
	perImages := make([]int, len(ds.Classes))
	perCorrect := make([]int, len(ds.Classes))
	top5 := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	per := tf.Len()
	for b := range dataset.Load(ctx, ds, tf, 0, o.BatchSize, o.Workers) {
		for i, err := range b.Errs {
			if err != nil {
				return fmt.Errorf("%s: %w", b.Samples[i].Path, err)
			}
		}
		in, err := sdk.NewTensor(append([]int64{int64(len(b.Samples))}, tf.Shape()...), b.X[:len(b.Samples)*per])
		if err != nil {
			return err
		}
		res, err := model.Extract(ctx, &sdk.ExtractRequest{Layers: []string{layer}, Input: in})
		if err != nil {
			return fmt.Errorf("eval %s..%s: %w", b.Samples[0].Path, b.Samples[len(b.Samples)-1].Path, err)
		}
		out := res.Outputs[layer]
		if out == nil || out.DType() != sdk.Float32 || sdk.NumElements(out.Shape) != int64(len(b.Samples)*nc) {
			shape := []int64(nil)
			if out != nil {
				shape = out.Shape
			}
			return fmt.Errorf("layer %s gives %s per batch of %d; want %d logits per image (the model's %d classes): give the classifier layer with --layer",
				layer, sdk.FormatShape(shape), len(b.Samples), nc, nc)
		}
		for i, s := range b.Samples {
			row := out.Float32[i*nc : (i+1)*nc]
			want := toModel[s.Label]
			pred := 0
			above := 0
			for j, v := range row {
				if v > row[pred] {
					pred = j
				}
				if v > row[want] {
					above++
				}
			}
			rep.Images++
			perImages[s.Label]++
			rep.Confusion[s.Label][pred]++
			if pred == want {
				rep.Correct++
				perCorrect[s.Label]++
			}
			if above < k {
				top5++
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rep.Images != len(ds.Samples) {
		return fmt.Errorf("eval %s: %d of %d images evaluated", o.Data, rep.Images, len(ds.Samples))
	}
	rep.Top1 = float64(rep.Correct) / float64(rep.Images)
	rep.Top5 = float64(top5) / float64(rep.Images)
	for i, c := range ds.Classes {
		sc := ClassScore{Class: c, Images: perImages[i], Correct: perCorrect[i]}
		if sc.Images > 0 {
			sc.Accuracy = float64(sc.Correct) / float64(sc.Images)
		}
		rep.PerClass = append(rep.PerClass, sc)
		rep.MeanClassAcc += sc.Accuracy / float64(len(ds.Classes))
	}
	printEval(o.f.Out, rep, toModel)
	if o.Out != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		tmp := o.Out + ".tmp"
		if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, o.Out); err != nil {
			return err
		}
		fmt.Fprintf(o.f.Err, "wrote %s\n", o.Out)
	}
	return nil
}

// printEval prints the accuracies, the per-class table and, for up to 20
// classes, the confusion matrix (rows: the tree's classes; columns: the
// model's predictions among them, and "other" for the rest).
func printEval(w io.Writer, rep *EvalReport, toModel []int) {
	fmt.Fprintf(w, "top-1 %.4f (%d/%d)  top-%d %.4f  mean per-class %.4f\n", rep.Top1, rep.Correct, rep.Images, rep.TopK, rep.Top5, rep.MeanClassAcc)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "class\timages\tcorrect\taccuracy")
	for _, c := range rep.PerClass {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\n", c.Class, c.Images, c.Correct, c.Accuracy)
	}
	tw.Flush()
	if len(rep.TreeClasses) > 20 {
		return
	}
	cols := slices.Clone(toModel)
	sort.Ints(cols)
	fmt.Fprintln(w, "confusion (rows: true class; columns: predicted)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for _, j := range cols {
		head = append(head, rep.Classes[j])
	}
	other := len(rep.Classes) > len(cols)
	if other {
		head = append(head, "other")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for i, c := range rep.TreeClasses {
		line := []string{c}
		n := 0
		for _, j := range cols {
			line = append(line, fmt.Sprint(rep.Confusion[i][j]))
			n += rep.Confusion[i][j]
		}
		if other {
			line = append(line, fmt.Sprint(rep.PerClass[i].Images-n))
		}
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	tw.Flush()
}

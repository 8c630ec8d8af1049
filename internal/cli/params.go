package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/gozoo/gozoo/sdk"
	"github.com/spf13/cobra"
)

// ParamsOptions configures gozoo params.
type ParamsOptions struct {
	f        *Factory
	Model    modelFlags
	Source   modelSource
	Freeze   []string
	Unfreeze []string
}

// NewCmdParams returns `gozoo params ARCH`.
func NewCmdParams(f *Factory, runF func(context.Context, *ParamsOptions) error) *cobra.Command {
	opts := &ParamsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "params (ARCH | --model NAME | --onnx FILE)",
		Short: "List a model's parameters: state_dict name, shape, count, trainable",
		Long: `List a model's parameters by their PyTorch state_dict names, with shapes,
element counts and trainable flags. The model is an architecture (ARCH), a
catalog entry (--model) or any .onnx file (--onnx: its float initializers).
--freeze and --unfreeze apply name patterns first ('*' spans dots:
'layer4.*'), as gozoo finetune does, so the output previews what a
fine-tuning run would train; a pattern that matches no parameter is an
error that names the closest ones.`,
		Example: `  gozoo params resnet50 --freeze '*' --unfreeze 'layer4.*,fc.*'
  gozoo params --model resnet18_w8.gozoo_fmnist`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Source.resolve(cmd.Context(), f, args, &opts.Model); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runParams(cmd.Context(), opts)
		},
	}
	opts.Model.register(cmd, false)
	opts.Source.register(cmd)
	cmd.Flags().StringSliceVar(&opts.Freeze, "freeze", nil, "patterns of parameters to freeze")
	cmd.Flags().StringSliceVar(&opts.Unfreeze, "unfreeze", nil, "patterns of parameters to unfreeze (after --freeze)")
	return cmd
}

func runParams(ctx context.Context, opts *ParamsOptions) error {
	model, _, err := opts.f.load(ctx, &opts.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	if opts.Source.desc != "" {
		fmt.Fprintf(opts.f.Out, "model %s\n", opts.Source.desc)
	}
	if err := applyTrainable(ctx, model, opts.Freeze, opts.Unfreeze); err != nil {
		return err
	}
	params, err := model.Params(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(opts.f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSHAPE\tCOUNT\tTRAINABLE")
	var total, trainable int64
	for _, p := range params {
		n := p.NumElements()
		total += n
		if p.Trainable {
			trainable += n
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\n", p.Name, sdk.FormatShape(p.Shape), n, p.Trainable)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(opts.f.Out, "%d tensors, %d parameters, %d trainable\n", len(params), total, trainable)
	return nil
}

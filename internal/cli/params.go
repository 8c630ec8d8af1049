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
	Freeze   []string
	Unfreeze []string
}

// NewCmdParams returns `gozoo params ARCH`.
func NewCmdParams(f *Factory, runF func(context.Context, *ParamsOptions) error) *cobra.Command {
	opts := &ParamsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "params ARCH",
		Short: "List an architecture's parameters: state_dict name, shape, count, trainable",
		Long: `List an architecture's parameters by their PyTorch state_dict names, with
shapes, element counts and trainable flags. --freeze and --unfreeze apply
name patterns first ('*' spans dots: 'layer4.*'), as gozoo finetune does,
so the output previews what a fine-tuning run would train.`,
		Example: "  gozoo params resnet50 --freeze '*' --unfreeze 'layer4.*,fc.*'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model.Arch = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runParams(cmd.Context(), opts)
		},
	}
	opts.Model.register(cmd, false)
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

package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/zoo/featfile"
	"github.com/spf13/cobra"
)

// FeaturesMergeOptions configures gozoo features merge.
type FeaturesMergeOptions struct {
	f      *Factory
	Out    string
	Inputs []string
}

// NewCmdFeatures returns `gozoo features` with merge.
func NewCmdFeatures(f *Factory, runF func(context.Context, *FeaturesMergeOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: "features", Short: "Work with feature files written by gozoo extract and gozoo-beam"}
	o := &FeaturesMergeOptions{f: f}
	merge := &cobra.Command{
		Use:   "merge --out OUT (MANIFEST.json | FILE...)",
		Short: "Join feature shards into one file in input order",
		Long: `Merge joins feature files (.npz or .safetensors, as gozoo extract and
gozoo-beam write them) into OUT, the same file one gozoo extract run over
all the inputs writes: the rows of every layer with their paths and labels,
the skipped inputs, the classes and notes.

Given a manifest (gozoo-beam extract writes PREFIX-manifest.json beside
its shards), the shards it lists are joined in input order; merge first
checks that they cover every input exactly once and that each shard holds
the rows the manifest says. Given feature files, they are joined in the
order given. Every file must come from the same model, layers and
preprocessing. OUT appears only when complete; a killed merge run again
resumes.`,
		Example: `  gozoo-beam extract --model resnet18_w8.gozoo_fmnist --input 'photos/*.jpg' --output out/feats
  gozoo features merge --out feats.npz out/feats-manifest.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Inputs = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runFeaturesMerge(o)
		},
	}
	merge.Flags().StringVarP(&o.Out, "out", "o", "", "output .npz or .safetensors file")
	cmd.AddCommand(merge)
	return cmd
}

func runFeaturesMerge(o *FeaturesMergeOptions) error {
	if o.Out == "" {
		return usageErrorf("--out is required (.npz or .safetensors)")
	}
	if !strings.HasSuffix(o.Out, ".npz") && !strings.HasSuffix(o.Out, ".safetensors") {
		return usageErrorf("--out %s: write .npz or .safetensors", o.Out)
	}
	var (
		res *featfile.MergeResult
		err error
	)
	if strings.HasSuffix(o.Inputs[0], ".json") {
		if len(o.Inputs) > 1 {
			return usageErrorf("give one manifest, or feature files (.npz, .safetensors)")
		}
		res, err = featfile.MergeManifest(o.Out, o.Inputs[0])
	} else {
		for _, in := range o.Inputs {
			if !strings.HasSuffix(in, ".npz") && !strings.HasSuffix(in, ".safetensors") {
				return usageErrorf("%s: give a manifest (.json) or feature files (.npz, .safetensors)", in)
			}
		}
		res, err = featfile.Merge(o.Out, o.Inputs)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.Err, "wrote %s: %d rows from %d files, %d skipped\n", o.Out, res.Rows, res.Files, res.Skipped)
	return nil
}

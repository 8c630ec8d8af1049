package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
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
}

// NewCmdExtract returns `gozoo extract`.
func NewCmdExtract(f *Factory, runF func(context.Context, *ExtractOptions) error) *cobra.Command {
	opts := &ExtractOptions{f: f}
	cmd := &cobra.Command{
		Use:   "extract --arch ARCH --layers L1,L2 --out OUT.npz IN.npy",
		Short: "Extract feature layers from a backbone in one forward pass per batch",
		Long: `Extract runs IN.npy (float32 [N,3,H,W] for image backbones) through the
backbone and writes OUT.npz with one float32 array per requested layer, named
exactly as the layer and shaped as PyTorch returns it (avgpool is [N,C,1,1]).
The output file appears only when every batch is done.`,
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
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Layers, "layers", nil, "layers to extract, by PyTorch module name (gozoo layers ARCH lists them)")
	fl.StringVarP(&opts.Out, "out", "o", "", "output .npz file")
	fl.IntVar(&opts.BatchSize, "batch-size", 16, "rows per forward pass")
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
	if err := o.validate(); err != nil {
		return err
	}
	in, err := npy.ReadFile(o.Input)
	if err != nil {
		return err
	}
	if len(in.Shape) == 0 || in.Shape[0] == 0 {
		return fmt.Errorf("%s: %w: no rows (shape %s)", o.Input, sdk.ErrBadInput, sdk.FormatShape(in.Shape))
	}
	model, _, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return err
	}
	defer model.Close()

	start := time.Now()
	progress := newProgress(o.f.Err, in.Shape[0])
	res, err := host.ExtractBatches(ctx, model, &sdk.ExtractRequest{Layers: o.Layers, Input: in}, o.BatchSize, progress.update)
	progress.done()
	if err != nil {
		return fmt.Errorf("extract %s: %w", o.Input, err)
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
	if err := w.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(o.f.Err, "wrote %s: %d rows, %d layers, %.1f rows/s\n", o.Out, in.Shape[0], len(o.Layers), float64(in.Shape[0])/secs)
	return nil
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

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/spf13/cobra"
)

// FinetuneOptions configures gozoo finetune.
type FinetuneOptions struct {
	f           *Factory
	Model       modelFlags
	Freeze      []string
	Unfreeze    []string
	Data        string
	ValSplit    float64
	InputSize   []int
	BatchSize   int
	Epochs      int
	Optimizer   string
	LR          float64
	BackboneLR  float64
	Momentum    float64
	WeightDecay float64
	Schedule    string
	Out         string
	Resume      string
}

// FinetuneResult is what gozoo finetune writes to OUT/metrics.json.
type FinetuneResult struct {
	Arch       string          `json:"arch"`
	Classes    []string        `json:"classes"`
	Trainable  []string        `json:"trainable"`
	Epochs     []FinetuneEpoch `json:"epochs"`
	Checkpoint string          `json:"checkpoint"` // the last epoch's .pth
}

// FinetuneEpoch is one epoch's report.
type FinetuneEpoch struct {
	Epoch        int     `json:"epoch"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	ValLoss      float64 `json:"val_loss"`
	ValAcc       float64 `json:"val_accuracy"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Checkpoint   string  `json:"checkpoint"`
}

// NewCmdFinetune returns `gozoo finetune`.
func NewCmdFinetune(f *Factory, runF func(context.Context, *FinetuneOptions) error) *cobra.Command {
	o := &FinetuneOptions{f: f}
	cmd := &cobra.Command{
		Use:   "finetune --arch ARCH --data DIR --out DIR",
		Short: "Fine-tune a backbone on labelled images with PyTorch (the torch plugin)",
		Long: `Finetune trains a backbone in the torch plugin on an image tree laid out as
DIR/train/CLASS/IMAGE and DIR/val/CLASS/IMAGE (or DIR/CLASS/IMAGE, of which
--val-split is held out). --freeze and --unfreeze take parameter name
patterns, applied in that order; frozen batch-norm layers keep their running
statistics. A checkpoint is written to OUT/epoch-NNN.pth after every epoch,
with OUT/epoch-NNN.trainstate to --resume from, and OUT/metrics.json at the
end. The head is replaced when the checkpoint has another number of classes.`,
		Example: `  gozoo finetune --arch resnet18 --weights resnet18.pth --freeze '*' \
      --unfreeze 'layer4.*,fc.*' --data flowers --epochs 5 --out runs/flowers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runFinetune(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	fl := cmd.Flags()
	fl.Lookup("plugin").DefValue = "torch"
	o.Model.Plugin = "torch"
	fl.StringSliceVar(&o.Freeze, "freeze", nil, "parameter patterns to freeze, e.g. '*'")
	fl.StringSliceVar(&o.Unfreeze, "unfreeze", nil, "parameter patterns to unfreeze after --freeze, e.g. 'layer4.*,fc.*'")
	fl.StringVar(&o.Data, "data", "", "image folder: DIR/train/CLASS/IMAGE and DIR/val/CLASS/IMAGE, or DIR/CLASS/IMAGE")
	fl.Float64Var(&o.ValSplit, "val-split", 0.1, "share of images held out for validation when DIR has no val/")
	fl.IntSliceVar(&o.InputSize, "input-size", []int{224}, "input size H[,W] the images are resized to")
	fl.IntVar(&o.BatchSize, "batch-size", 32, "images per training step")
	fl.IntVar(&o.Epochs, "epochs", 5, "epochs to train (in all, when resuming)")
	fl.StringVar(&o.Optimizer, "optimizer", "sgd", "sgd or adamw")
	fl.Float64Var(&o.LR, "lr", 0.01, "learning rate of the head")
	fl.Float64Var(&o.BackboneLR, "backbone-lr", 0, "learning rate of unfrozen backbone parameters (default: --lr)")
	fl.Float64Var(&o.Momentum, "momentum", 0.9, "SGD momentum")
	fl.Float64Var(&o.WeightDecay, "weight-decay", 1e-4, "weight decay")
	fl.StringVar(&o.Schedule, "schedule", "cosine", "learning-rate schedule: cosine, step or constant")
	fl.StringVar(&o.Out, "out", "", "output folder for checkpoints and metrics.json")
	fl.StringVar(&o.Resume, "resume", "", "continue from an epoch-NNN.pth checkpoint of an earlier run")
	return cmd
}

func (o *FinetuneOptions) validate() error {
	switch {
	case o.Model.Arch == "":
		return usageErrorf("--arch is required (gozoo plugins lists the archs)")
	case o.Data == "":
		return usageErrorf("--data is required: a folder of DIR/CLASS/IMAGE")
	case o.Out == "":
		return usageErrorf("--out is required")
	case o.Epochs < 1:
		return usageErrorf("--epochs %d: must be 1 or more", o.Epochs)
	case o.BatchSize < 1:
		return usageErrorf("--batch-size %d: must be positive", o.BatchSize)
	case o.ValSplit < 0 || o.ValSplit >= 1:
		return usageErrorf("--val-split %g: give a share in [0, 1)", o.ValSplit)
	case len(o.InputSize) < 1 || len(o.InputSize) > 2 || o.InputSize[0] < 1 || o.InputSize[len(o.InputSize)-1] < 1:
		return usageErrorf("--input-size %v: give H or H,W", o.InputSize)
	}
	return nil
}

// labelled is a fine-tuning set held in memory.
type labelled struct {
	Classes []string    // class folder names, in torchvision's order
	Input   *sdk.Tensor // [N, 3, H, W]
	Labels  []int64     // per row, an index into Classes
}

// transform is the preprocessing of fine-tuning images: torchvision's
// Resize (shorter side, bilinear, antialiased) and CenterCrop to the input
// size, then ImageNet's Normalize.
func (o *FinetuneOptions) transform() imageproc.Transform {
	h, w := o.InputSize[0], o.InputSize[len(o.InputSize)-1]
	return imageproc.Transform{ResizeSize: max(h, w), CropH: h, CropW: w, Interp: imageproc.Bilinear,
		Mean: imageproc.ImageNetMean, Std: imageproc.ImageNetStd}
}

// loadFolder reads an ImageFolder tree; with classes given, its labels are
// remapped onto them (a validation tree uses the training tree's classes).
func (o *FinetuneOptions) loadFolder(ctx context.Context, root string, classes []string) (*labelled, error) {
	d, err := dataset.OpenKind(root, "imagefolder")
	if err != nil {
		return nil, fmt.Errorf("%w: point --data at a folder of CLASS/IMAGE (or train/ and val/ trees of them)", err)
	}
	x, labels, err := dataset.Tensor(ctx, d, o.transform(), runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	out := &labelled{Classes: d.Classes, Input: x, Labels: labels}
	if classes == nil {
		return out, nil
	}
	index := map[string]int64{}
	for i, c := range classes {
		index[c] = int64(i)
	}
	for i, l := range labels {
		c := d.Classes[l]
		j, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("%s: class %q is not among the training classes %v", root, c, classes)
		}
		labels[i] = j
	}
	out.Classes = classes
	return out, nil
}

// data loads the training and validation images: DIR/train and DIR/val
// when they exist, else DIR split by --val-split.
func (o *FinetuneOptions) data(ctx context.Context) (train, val *labelled, err error) {
	if st, err := os.Stat(filepath.Join(o.Data, "train")); err == nil && st.IsDir() {
		if train, err = o.loadFolder(ctx, filepath.Join(o.Data, "train"), nil); err != nil {
			return nil, nil, err
		}
		if st, err := os.Stat(filepath.Join(o.Data, "val")); err == nil && st.IsDir() {
			if val, err = o.loadFolder(ctx, filepath.Join(o.Data, "val"), train.Classes); err != nil {
				return nil, nil, err
			}
		}
		return train, val, nil
	}
	all, err := o.loadFolder(ctx, o.Data, nil)
	if err != nil {
		return nil, nil, err
	}
	n := int(all.Input.Shape[0])
	nv := int(float64(n) * o.ValSplit)
	perm := rand.New(rand.NewSource(o.Model.Seed)).Perm(n)
	return subset(all, perm[nv:]), subset(all, perm[:nv]), nil
}

func subset(ds *labelled, idx []int) *labelled {
	b := pick(ds, idx)
	return &labelled{Classes: ds.Classes, Input: b.Input, Labels: b.Labels}
}

// batches streams epochs of shuffled training batches, each followed by
// the validation batches, until ctx ends.
func batches(ctx context.Context, train, val *labelled, size int, seed int64) <-chan sdk.TrainBatch {
	ch := make(chan sdk.TrainBatch, 2)
	go func() {
		defer close(ch)
		r := rand.New(rand.NewSource(seed))
		send := func(b sdk.TrainBatch) bool {
			select {
			case ch <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			order := r.Perm(len(train.Labels))
			nval := 0
			if val != nil {
				nval = len(val.Labels)
			}
			for i := 0; i < len(order); i += size {
				idx := order[i:min(i+size, len(order))]
				b := pick(train, idx)
				b.EndOfEpoch = nval == 0 && i+size >= len(order)
				if !send(b) {
					return
				}
			}
			for i := 0; i < nval; i += size {
				idx := make([]int, 0, size)
				for j := i; j < min(i+size, nval); j++ {
					idx = append(idx, j)
				}
				b := pick(val, idx)
				b.Validation, b.EndOfEpoch = true, i+size >= nval
				if !send(b) {
					return
				}
			}
		}
	}()
	return ch
}

func pick(ds *labelled, idx []int) sdk.TrainBatch {
	per := int(sdk.NumElements(ds.Input.Shape[1:]))
	x := make([]float32, 0, len(idx)*per)
	labels := make([]int64, len(idx))
	for k, i := range idx {
		x = append(x, ds.Input.Float32[i*per:(i+1)*per]...)
		labels[k] = ds.Labels[i]
	}
	shape := append([]int64{int64(len(idx))}, ds.Input.Shape[1:]...)
	return sdk.TrainBatch{Input: &sdk.Tensor{Shape: shape, Float32: x}, Labels: labels}
}

func runFinetune(ctx context.Context, o *FinetuneOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	train, val, err := o.data(ctx)
	if err != nil {
		return err
	}
	nclass := len(train.Classes)
	if o.Model.NumClasses == 0 {
		o.Model.NumClasses = nclass
	} else if o.Model.NumClasses < nclass {
		return usageErrorf("--num-classes %d: the data has %d classes", o.Model.NumClasses, nclass)
	}
	if !hasOpt(o.Model.Opts, "reset_head") && o.Model.Weights != "" {
		o.Model.Opts = append(o.Model.Opts, "reset_head=auto")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	o.Model.train = true
	model, r, err := o.f.load(ctx, &o.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	tr, ok := model.(sdk.Trainer)
	if !ok || !r.Desc.Capabilities.Train {
		return fmt.Errorf("%w: plugin %s cannot train: use --plugin torch", sdk.ErrUnsupported, r.Plugin)
	}
	if err := applyTrainable(ctx, model, o.Freeze, o.Unfreeze); err != nil {
		return err
	}
	params, err := model.Params(ctx)
	if err != nil {
		return err
	}
	res := &FinetuneResult{Arch: o.Model.Arch, Classes: train.Classes}
	var total, trainable int64
	for _, p := range params {
		total += p.NumElements()
		if p.Trainable {
			trainable += p.NumElements()
			res.Trainable = append(res.Trainable, p.Name)
		}
	}
	nval := 0
	if val != nil {
		nval = len(val.Labels)
	}
	fmt.Fprintf(o.f.Err, "finetune %s (plugin %s): %d classes, %d training and %d validation images, %d of %d parameters trainable\n",
		o.Model.Arch, r.Plugin, nclass, len(train.Labels), nval, trainable, total)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := &sdk.TrainRequest{
		Optimizer: o.Optimizer, LR: o.LR, BackboneLR: o.BackboneLR, WeightDecay: o.WeightDecay,
		Momentum: o.Momentum, Epochs: o.Epochs, Schedule: o.Schedule, Seed: o.Model.Seed,
		Device: o.Model.Device, CheckpointDir: o.Out, ResumeFrom: o.Resume,
		Batches: batches(runCtx, train, val, o.BatchSize, o.Model.Seed),
	}
	bar := newTrainBar(o.f.Err, len(train.Labels), o.BatchSize, o.Epochs)
	var cur FinetuneEpoch
	lastCkpt := o.Resume
	err = tr.Train(runCtx, req, func(e *sdk.TrainEvent) error {
		switch {
		case e.Validation:
			cur.Epoch, cur.ValLoss, cur.ValAcc, cur.Checkpoint = e.Epoch, e.Loss, e.Accuracy, e.CheckpointPath
			if e.CheckpointPath != "" {
				lastCkpt = e.CheckpointPath
			}
			res.Epochs = append(res.Epochs, cur)
			bar.epoch(cur)
			cur = FinetuneEpoch{}
		case e.Message == "train":
			cur.TrainLoss, cur.TrainAcc, cur.ImagesPerSec = e.Loss, e.Accuracy, e.ImagesPerSec
		case e.Step > 0 && e.Message == "":
			bar.step(e)
		case e.Message != "":
			bar.note(e.Message)
		}
		return nil
	})
	bar.done()
	if err != nil {
		msg := fmt.Sprintf("training %s stopped", o.Model.Arch)
		if len(res.Epochs) > 0 {
			msg += fmt.Sprintf(" after epoch %d", res.Epochs[len(res.Epochs)-1].Epoch)
		}
		if lastCkpt != "" {
			msg += fmt.Sprintf("; the last complete checkpoint is %s: continue with --resume %s", lastCkpt, lastCkpt)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	res.Checkpoint = lastCkpt
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "metrics.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.f.Err, "wrote %s and %s\n", lastCkpt, filepath.Join(o.Out, "metrics.json"))
	return nil
}

func hasOpt(kvs []string, key string) bool {
	for _, kv := range kvs {
		if k, _, _ := strings.Cut(kv, "="); strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// trainBar shows training progress: a rewritten line on a terminal, one
// line per epoch everywhere.
type trainBar struct {
	p      *progress
	steps  int
	epochs int
	last   time.Time
}

func newTrainBar(w interface{ Write([]byte) (int, error) }, n, batch, epochs int) *trainBar {
	return &trainBar{p: newProgress(w, int64(n)), steps: (n + batch - 1) / batch, epochs: epochs}
}

func (b *trainBar) step(e *sdk.TrainEvent) {
	if !b.p.tty || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	s := (e.Step-1)%max(b.steps, 1) + 1
	width := 30
	fill := s * width / max(b.steps, 1)
	fmt.Fprintf(b.p.w, "\repoch %d/%d [%s%s] %d/%d loss %.4f acc %5.1f%% lr %.3g %.0f img/s ",
		e.Epoch, b.epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), s, b.steps, e.Loss, 100*e.Accuracy, e.LR, e.ImagesPerSec)
}

func (b *trainBar) epoch(e FinetuneEpoch) {
	if b.p.tty {
		fmt.Fprint(b.p.w, "\r\033[K")
	}
	ck := ""
	if e.Checkpoint != "" {
		ck = "  " + e.Checkpoint
	}
	fmt.Fprintf(b.p.w, "epoch %d/%d  train loss %.4f acc %5.1f%%  val loss %.4f acc %5.1f%%  %s img/s%s\n",
		e.Epoch, b.epochs, e.TrainLoss, 100*e.TrainAcc, e.ValLoss, 100*e.ValAcc, strconv.FormatFloat(e.ImagesPerSec, 'f', 0, 64), ck)
}

func (b *trainBar) note(msg string) {
	if b.p.tty {
		fmt.Fprint(b.p.w, "\r\033[K")
	}
	fmt.Fprintln(b.p.w, msg)
}

func (b *trainBar) done() {
	if b.p.tty {
		fmt.Fprint(b.p.w, "\r\033[K")
	}
}

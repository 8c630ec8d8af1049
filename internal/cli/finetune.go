package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/spf13/cobra"
)

// FinetuneOptions configures gozoo finetune.
type FinetuneOptions struct {
	f           *Factory
	Model       modelFlags
	Catalog     catalogFlags
	Transform   transformFlags
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
	Augment     string
	Workers     int
	Keep        string

	changed func(string) bool
}

// FinetuneResult is what gozoo finetune writes to OUT/metrics.json.
type FinetuneResult struct {
	Arch    string   `json:"arch"`
	Plugin  string   `json:"plugin"`
	Options []string `json:"options,omitempty"`
	// Base is the starting point: a catalog entry, a weights file or a
	// seeded random init.
	Base          string   `json:"base"`
	Classes       []string `json:"classes"`
	ClassesSource string   `json:"classes_source"`
	// Transform is the eval transform (validation, and the checkpoints'
	// cards); Augment the training augmentation on top of it.
	Transform       zoo.Preprocess  `json:"transform"`
	TransformSource string          `json:"transform_source"`
	Augment         string          `json:"augment"`
	Hyperparameters map[string]any  `json:"hyperparameters"`
	TrainImages     int             `json:"train_images"`
	ValImages       int             `json:"val_images"`
	Trainable       []string        `json:"trainable"`
	Epochs          []FinetuneEpoch `json:"epochs"`
	Checkpoint      string          `json:"checkpoint"` // the last epoch's .pth
	// Best is the checkpoint with the highest validation accuracy
	// (OUT/best.pth), BestEpoch its epoch.
	Best       string  `json:"best,omitempty"`
	BestEpoch  int     `json:"best_epoch,omitempty"`
	BestValAcc float64 `json:"best_val_accuracy,omitempty"`
	Log        string  `json:"log"`
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
		Use:   "finetune (--model NAME | --arch ARCH [--weights W.pth]) --data DIR --out DIR",
		Short: "Fine-tune a backbone on labelled images with PyTorch (the torch plugin)",
		Long: `Finetune trains a backbone in the torch plugin on an image tree laid out as
DIR/train/CLASS/IMAGE and DIR/val/CLASS/IMAGE (or DIR/CLASS/IMAGE, of which
--val-split is held out). The model is a catalog entry (--model, the
embedded ` + zoo.DefaultModel + ` included) or an arch with optional weights,
whose model card (W.gozoo.json beside W.pth) supplies options, classes and
the eval transform.

Images are decoded once and kept in memory. Validation uses the model's eval
transform (the catalog entry's or card's, else torchvision's ImageNet one;
--resize, --crop, --interpolation, --mean, --std change it as in extract).
Training adds --augment's random augmentations (torchvision's
RandomResizedCrop, RandomHorizontalFlip, RandomRotation, ColorJitter), drawn
afresh every epoch in Go from --seed, the same for any --workers.

--freeze and --unfreeze take parameter name patterns, applied in that order;
frozen batch-norm layers keep their running statistics. The head is kept
when the tree's classes are the model's (matched by name), else replaced by
a new one for the tree's classes in torchvision's order.

Every epoch writes OUT/epoch-NNN.pth with its model card (epoch-NNN.gozoo.json:
classes, eval transform, training provenance) and OUT/epoch-NNN.trainstate to
--resume from; the best epoch by validation accuracy is copied to
OUT/best.pth (+ best.gozoo.json); OUT/log.csv gets a line per epoch and
OUT/metrics.json every setting and result. --keep last,best deletes the
other epochs' files.`,
		Example: `  gozoo finetune --arch resnet18 --weights resnet18.pth --freeze '*' \
      --unfreeze 'layer4.*,fc.*' --data flowers --epochs 5 --out runs/flowers
  gozoo finetune --model ` + zoo.DefaultModel + ` --data shoes --epochs 3 --out runs/shoes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runFinetune(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	o.Catalog.register(cmd, "catalog model to start from, e.g. "+zoo.DefaultModel+" (gozoo zoo list): sets arch, options, weights, eval transform and classes")
	o.Transform.register(cmd)
	fl := cmd.Flags()
	fl.Lookup("plugin").Usage = "plugin to train the arch in (default: the plugin offering it that can train, such as torch)"
	fl.Lookup("seed").Usage = "seed of the random init, the shuffling, the augmentations and --val-split"
	fl.StringSliceVar(&o.Freeze, "freeze", nil, "parameter patterns to freeze, e.g. '*'")
	fl.StringSliceVar(&o.Unfreeze, "unfreeze", nil, "parameter patterns to unfreeze after --freeze, e.g. 'layer4.*,fc.*'")
	fl.StringVar(&o.Data, "data", "", "image folder: DIR/train/CLASS/IMAGE and DIR/val/CLASS/IMAGE, or DIR/CLASS/IMAGE")
	fl.Float64Var(&o.ValSplit, "val-split", 0.1, "share of images held out for validation when DIR has no val/")
	fl.IntSliceVar(&o.InputSize, "input-size", nil, "shorthand for --resize max(H,W) --crop H,W")
	fl.IntVar(&o.BatchSize, "batch-size", 32, "images per training step")
	fl.IntVar(&o.Epochs, "epochs", 5, "epochs to train (in all, when resuming)")
	fl.StringVar(&o.Optimizer, "optimizer", "sgd", "sgd or adamw")
	fl.Float64Var(&o.LR, "lr", 0.01, "learning rate of the head")
	fl.Float64Var(&o.BackboneLR, "backbone-lr", 0, "learning rate of unfrozen backbone parameters (default: --lr)")
	fl.Float64Var(&o.Momentum, "momentum", 0.9, "SGD momentum")
	fl.Float64Var(&o.WeightDecay, "weight-decay", 1e-4, "weight decay")
	fl.StringVar(&o.Schedule, "schedule", "cosine", "learning-rate schedule: cosine, step or constant")
	fl.StringVar(&o.Out, "out", "", "output folder for checkpoints, their model cards, log.csv and metrics.json")
	fl.StringVar(&o.Resume, "resume", "", "continue from an epoch-NNN.pth checkpoint of an earlier run")
	fl.StringVar(&o.Augment, "augment", "default", "training augmentation: default ("+imageproc.DefaultAugment().String()+"), none, or items such as crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1")
	fl.IntVar(&o.Workers, "workers", runtime.NumCPU(), "image decoding and augmentation goroutines")
	fl.StringVar(&o.Keep, "keep", "all", "checkpoints to keep: all, or last,best (delete the other epochs' files)")
	o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
	return cmd
}

func (o *FinetuneOptions) validate() error {
	switch {
	case o.Model.Arch == "" && o.Catalog.Model == "" && o.Model.Weights == "":
		return usageErrorf("--arch or --model is required (gozoo plugins lists the archs, gozoo zoo list the models)")
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
	case len(o.InputSize) > 2 || (len(o.InputSize) > 0 && (o.InputSize[0] < 1 || o.InputSize[len(o.InputSize)-1] < 1)):
		return usageErrorf("--input-size %v: give H or H,W", o.InputSize)
	}
	switch o.Keep {
	case "all", "last,best", "best,last":
	default:
		return usageErrorf("--keep %q: use all or last,best", o.Keep)
	}
	return nil
}

// labelled is a fine-tuning set held in memory.
type labelled struct {
	Classes []string    // class folder names, in torchvision's order
	Input   *sdk.Tensor // [N, 3, H, W]
	Labels  []int64     // per row, an index into Classes
}

// splitData opens the training and validation trees: DIR/train and
// DIR/val when they exist, else DIR split by --val-split. The validation
// labels are the training tree's class indices.
func (o *FinetuneOptions) splitData() (train, val *dataset.Dataset, err error) {
	open := func(root string) (*dataset.Dataset, error) {
		d, err := dataset.OpenKind(root, "imagefolder")
		if err != nil {
			return nil, fmt.Errorf("%w: point --data at a folder of CLASS/IMAGE (or train/ and val/ trees of them)", err)
		}
		return d, nil
	}
	if st, err := os.Stat(filepath.Join(o.Data, "train")); err == nil && st.IsDir() {
		if train, err = open(filepath.Join(o.Data, "train")); err != nil {
			return nil, nil, err
		}
		if st, err := os.Stat(filepath.Join(o.Data, "val")); err == nil && st.IsDir() {
			if val, err = open(filepath.Join(o.Data, "val")); err != nil {
				return nil, nil, err
			}
			if err := relabel(val, train.Classes); err != nil {
				return nil, nil, err
			}
		}
		return train, val, nil
	}
	all, err := open(o.Data)
	if err != nil {
		return nil, nil, err
	}
	n := len(all.Samples)
	nv := int(float64(n) * o.ValSplit)
	perm := rand.New(rand.NewSource(o.Model.Seed)).Perm(n)
	part := func(idx []int) *dataset.Dataset {
		sort.Ints(idx)
		d := &dataset.Dataset{Kind: all.Kind, Classes: all.Classes}
		for _, i := range idx {
			d.Samples = append(d.Samples, all.Samples[i])
		}
		return d
	}
	train = part(perm[nv:])
	if nv > 0 {
		val = part(perm[:nv])
	}
	return train, val, nil
}

// relabel renumbers d's labels as indices into classes, matching by name.
func relabel(d *dataset.Dataset, classes []string) error {
	if missing := d.Relabel(classes); len(missing) > 0 {
		return fmt.Errorf("class %q is not among the classes %s: rename or remove its folder", missing[0], fewNames(classes, 10))
	}
	return nil
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

// sameNames reports whether a and b hold the same names in any order.
func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

// setOpt sets key=value in kvs, replacing an earlier value.
func setOpt(kvs []string, key, value string) []string {
	out := slices.DeleteFunc(slices.Clone(kvs), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.TrimSpace(k) == key
	})
	if value != "" {
		out = append(out, key+"="+value)
	}
	return out
}

// resumeEpoch returns the epoch a run resumed from path starts at.
func resumeEpoch(path string) int {
	var n int
	if _, err := fmt.Sscanf(filepath.Base(path), "epoch-%d.pth", &n); err == nil {
		return n + 1
	}
	return 1
}

func runFinetune(ctx context.Context, o *FinetuneOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.changed == nil {
		o.changed = func(string) bool { return false }
	}
	aug, err := imageproc.ParseAugment(o.Augment)
	if err != nil {
		return usageErrorf("--augment: %v", err)
	}
	userWeights := o.Model.Weights
	o.Model.train = true // a catalog entry's plugin serves extraction, not training
	spec, err := o.f.resolveSpec(ctx, &o.Model, &o.Catalog, &o.Transform)
	if err != nil {
		return err
	}
	if len(o.InputSize) > 0 {
		h, w := o.InputSize[0], o.InputSize[len(o.InputSize)-1]
		spec.Pre.Resize, spec.Pre.Crop = max(h, w), zoo.Size{h, w}
		spec.PreSource += ", changed by --input-size"
		fmt.Fprintf(o.f.Err, "transform: %s (--input-size)\n", spec.Pre)
	}
	tf, err := spec.Pre.Transform()
	if err != nil {
		return usageErrorf("transform: %v", err)
	}
	fmt.Fprintf(o.f.Err, "augment: %s (training only; validation uses the transform above)\n", aug)

	trainDS, valDS, err := o.splitData()
	if err != nil {
		return err
	}
	for _, c := range trainDS.Classes {
		if !utf8.ValidString(c) {
			return fmt.Errorf("class folder %q is not UTF-8 text, which model cards cannot record: rename it (e.g. with convmv)", c)
		}
	}
	// Classes: the model's when the tree has the same ones (the head is
	// kept), else the tree's in torchvision's order with a new head.
	classes, classesSource := trainDS.Classes, "the training tree "+o.Data+" (torchvision's ImageFolder order)"
	keepHead := len(spec.Classes) > 0 && sameNames(spec.Classes, trainDS.Classes)
	if keepHead {
		classes, classesSource = spec.Classes, spec.ClassesSource+", matched by name with the training tree"
		if err := relabel(trainDS, classes); err != nil {
			return err
		}
		if valDS != nil {
			if err := relabel(valDS, classes); err != nil {
				return err
			}
		}
		fmt.Fprintf(o.f.Err, "head: kept; the tree's %d classes are the model's, in the model's order\n", len(classes))
	} else if len(spec.Classes) > 0 {
		fmt.Fprintf(o.f.Err, "head: new %d-class head for the tree's classes (the model has %d others: %s)\n", len(classes), len(spec.Classes), fewNames(spec.Classes, 5))
	}
	nclass := len(classes)
	if o.Model.NumClasses == 0 {
		o.Model.NumClasses = nclass
		o.Model.Opts = setOpt(o.Model.Opts, "num_classes", "")
	} else if o.Model.NumClasses < nclass {
		return usageErrorf("--num-classes %d: the data has %d classes", o.Model.NumClasses, nclass)
	}
	if !hasOpt(o.Model.Opts, "reset_head") && o.Model.Weights != "" && !keepHead {
		o.Model.Opts = append(o.Model.Opts, "reset_head=auto")
	}

	var val *labelled
	if valDS != nil {
		x, labels, err := dataset.Tensor(ctx, valDS, tf, o.Workers)
		if err != nil {
			return err
		}
		val = &labelled{Classes: classes, Input: x, Labels: labels}
	}
	train, err := decodeImages(ctx, trainDS, o.Workers)
	if err != nil {
		return err
	}
	train.Classes = classes

	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
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
	// The cards' default layer: the model's, else its default output (the
	// last layer, the classifier), so extract and bridge import of a
	// checkpoint need no --layers.
	layer, layerSource := spec.Layer, spec.Source
	if layer == "" {
		ls, err := model.Layers(ctx, &sdk.LayersRequest{InputShape: append([]int64{-1}, tf.Shape()...)})
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return fmt.Errorf("%s lists no layers, so its model cards can name no default layer: report this to the plugin %s", o.Model.Arch, r.Plugin)
		}
		layer, layerSource = ls[len(ls)-1].Name, "the model's default output, its last layer"
	}
	fmt.Fprintf(o.f.Err, "layer: %s (%s; the model cards' default for extract)\n", layer, layerSource)
	params, err := model.Params(ctx)
	if err != nil {
		return err
	}
	base, baseSum := o.base(spec, userWeights)
	opts, _ := parseOpts(o.Model.Opts)
	delete(opts, "reset_head")
	opts["num_classes"] = strconv.Itoa(o.Model.NumClasses)
	res := &FinetuneResult{Arch: o.Model.Arch, Plugin: r.Plugin, Options: o.Model.Opts, Base: base,
		Classes: classes, ClassesSource: classesSource, Transform: spec.Pre, TransformSource: spec.PreSource,
		Augment: aug.String(), Hyperparameters: o.hyperparameters(), TrainImages: len(train.Labels),
		Log: filepath.Join(o.Out, "log.csv")}
	var total, trainable int64
	for _, p := range params {
		total += p.NumElements()
		if p.Trainable {
			trainable += p.NumElements()
			res.Trainable = append(res.Trainable, p.Name)
		}
	}
	if val != nil {
		res.ValImages = len(val.Labels)
	} else {
		fmt.Fprintf(o.f.Err, "no validation images: best.pth is the last epoch (give DIR/val or --val-split)\n")
	}
	fmt.Fprintf(o.f.Err, "finetune %s (plugin %s): %d classes, %d training and %d validation images, %d of %d parameters trainable\n",
		o.Model.Arch, r.Plugin, nclass, len(train.Labels), res.ValImages, trainable, total)

	outAbs, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	resumeAbs := o.Resume
	if resumeAbs != "" {
		if resumeAbs, err = filepath.Abs(resumeAbs); err != nil {
			return err
		}
	}
	logf, err := openEpochLog(res.Log)
	if err != nil {
		return err
	}
	defer logf.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	first := 1
	if o.Resume != "" {
		first = resumeEpoch(o.Resume)
	}
	req := &sdk.TrainRequest{
		Optimizer: o.Optimizer, LR: o.LR, BackboneLR: o.BackboneLR, WeightDecay: o.WeightDecay,
		Momentum: o.Momentum, Epochs: o.Epochs, Schedule: o.Schedule, Seed: o.Model.Seed,
		Device: o.Model.Device, CheckpointDir: outAbs, ResumeFrom: resumeAbs,
		Batches: trainBatches(runCtx, train, val, tf, aug, o.BatchSize, o.Model.Seed, first, o.Workers, errc),
	}
	card := func(e FinetuneEpoch) *zoo.ModelCard {
		return &zoo.ModelCard{Arch: o.Model.Arch, Plugin: r.Plugin, Options: opts, Classes: classes,
			ClassesSource: classesSource, Preprocess: spec.Pre, Layer: layer,
			Training: &zoo.Training{Base: base, BaseSHA256: baseSum, Data: o.Data, Epoch: e.Epoch, Epochs: o.Epochs,
				TrainImages: res.TrainImages, ValImages: res.ValImages, ValAccuracy: e.ValAcc, ValLoss: e.ValLoss,
				Augment: res.Augment, Seed: o.Model.Seed, Hyperparameters: res.Hyperparameters,
				Created: time.Now().UTC().Format(time.RFC3339)}}
	}
	bar := newTrainBar(o.f.Err, len(train.Labels), o.BatchSize, o.Epochs)
	var cur FinetuneEpoch
	lastCkpt := o.Resume
	best := -1.0
	if o.Resume != "" {
		// A resumed run competes with the best epoch so far.
		if c, err := zoo.ReadCard(filepath.Join(o.Out, "best.pth")); err == nil && c != nil && c.Training != nil {
			best = c.Training.ValAccuracy
			if val == nil {
				best = float64(c.Training.Epoch)
			}
			res.Best, res.BestEpoch, res.BestValAcc = filepath.Join(o.Out, "best.pth"), c.Training.Epoch, c.Training.ValAccuracy
			fmt.Fprintf(o.f.Err, "best so far: %s (epoch %d, val accuracy %.4f)\n", res.Best, res.BestEpoch, res.BestValAcc)
		}
	}
	err = tr.Train(runCtx, req, func(e *sdk.TrainEvent) error {
		switch {
		case e.Validation:
			cur.Epoch, cur.ValLoss, cur.ValAcc = e.Epoch, e.Loss, e.Accuracy
			if e.CheckpointPath != "" {
				// The user's spelling of OUT, not the plugin's absolute path.
				cur.Checkpoint = filepath.Join(o.Out, filepath.Base(e.CheckpointPath))
				if err := zoo.WriteCard(cur.Checkpoint, card(cur)); err != nil {
					return err
				}
				prev := lastCkpt
				lastCkpt = cur.Checkpoint
				score := cur.ValAcc
				if val == nil {
					score = float64(cur.Epoch) // no validation: the last epoch
				}
				if score > best {
					best = score
					res.Best, res.BestEpoch, res.BestValAcc = filepath.Join(o.Out, "best.pth"), cur.Epoch, cur.ValAcc
					if err := copyCheckpoint(cur.Checkpoint, res.Best, card(cur)); err != nil {
						return err
					}
				}
				if o.Keep != "all" && prev != "" && prev != o.Resume {
					removeCheckpoint(prev)
				}
			}
			res.Epochs = append(res.Epochs, cur)
			if err := logf.add(cur); err != nil {
				return err
			}
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
	select {
	case berr := <-errc:
		err = errors.Join(berr, err)
	default:
	}
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
	fmt.Fprintf(o.f.Err, "wrote %s, %s (epoch %d, val accuracy %.4f), %s and %s\n", lastCkpt, res.Best, res.BestEpoch, res.BestValAcc,
		res.Log, filepath.Join(o.Out, "metrics.json"))
	return nil
}

// base names the run's starting point and its weights' sha256.
func (o *FinetuneOptions) base(spec *modelSpec, userWeights string) (string, string) {
	switch {
	case spec.Entry != nil:
		return "catalog entry " + spec.Entry.Name, spec.Entry.Weights.SHA256
	case userWeights != "":
		sum, _, _ := zoo.FileSHA256(userWeights)
		return userWeights, sum
	}
	return fmt.Sprintf("random init (seed %d)", o.Model.Seed), ""
}

// hyperparameters lists every training setting for metrics.json and the
// model cards.
func (o *FinetuneOptions) hyperparameters() map[string]any {
	return map[string]any{
		"optimizer": o.Optimizer, "lr": o.LR, "backbone_lr": o.BackboneLR, "momentum": o.Momentum,
		"weight_decay": o.WeightDecay, "schedule": o.Schedule, "epochs": o.Epochs, "batch_size": o.BatchSize,
		"seed": o.Model.Seed, "freeze": o.Freeze, "unfreeze": o.Unfreeze, "val_split": o.ValSplit,
		"augment": o.Augment, "device": o.Model.Device, "resume": o.Resume, "keep": o.Keep,
		"num_classes": o.Model.NumClasses, "options": o.Model.Opts,
	}
}

// copyCheckpoint copies the checkpoint src to dst (through a temporary
// file) and writes dst's model card.
func copyCheckpoint(src, dst string, card *zoo.ModelCard) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err = errors.Join(err, out.Close()); err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return zoo.WriteCard(dst, card)
}

// removeCheckpoint deletes an epoch's checkpoint, training state and card.
func removeCheckpoint(path string) {
	os.Remove(path)
	os.Remove(strings.TrimSuffix(path, ".pth") + ".trainstate")
	os.Remove(zoo.CardPath(path))
}

// epochLog appends a CSV line per epoch.
type epochLog struct{ f *os.File }

func openEpochLog(path string) (*epochLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		if _, err := f.WriteString("epoch,train_loss,train_accuracy,val_loss,val_accuracy,images_per_sec,checkpoint\n"); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &epochLog{f}, nil
}

func (l *epochLog) add(e FinetuneEpoch) error {
	_, err := fmt.Fprintf(l.f, "%d,%s,%s,%s,%s,%s,%s\n", e.Epoch, fnum(e.TrainLoss), fnum(e.TrainAcc), fnum(e.ValLoss), fnum(e.ValAcc), fnum(e.ImagesPerSec), e.Checkpoint)
	return err
}

func (l *epochLog) Close() error { return l.f.Close() }

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

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

package config

import (
	"fmt"
	"slices"
)

// Version is the config format this package reads.
const Version = 1

// Kinds of experiment.
const (
	KindExtract  = "extract"
	KindProbe    = "probe"
	KindFinetune = "finetune"
	KindCompare  = "compare"
)

// Experiment is one experiment config. Field tags name the YAML keys.
type Experiment struct {
	// Version is the config format, 1.
	Version int `yaml:"version" mapstructure:"version"`
	// Kind is extract, probe, finetune or compare.
	Kind string `yaml:"kind" mapstructure:"kind"`
	// Name names run folders (default: the config file's base name).
	Name string `yaml:"name" mapstructure:"name"`
	// Seed seeds splits, random init and training.
	Seed int64 `yaml:"seed" mapstructure:"seed"`
	// RunsDir holds run folders and the feature cache ($GOZOO_RUNS_DIR),
	// relative to the working directory.
	RunsDir string `yaml:"runs_dir" mapstructure:"runs_dir"`
	// Device is cpu, cuda, cuda:N or tensorrt ($GOZOO_DEVICE).
	Device string `yaml:"device" mapstructure:"device"`
	// Threads is ONNX Runtime's intra-op threads (0: its default).
	Threads  int      `yaml:"threads" mapstructure:"threads"`
	Model    Model    `yaml:"model" mapstructure:"model"`
	Data     Data     `yaml:"data" mapstructure:"data"`
	Extract  Extract  `yaml:"extract" mapstructure:"extract"`
	Probe    Probe    `yaml:"probe" mapstructure:"probe"`
	Finetune Finetune `yaml:"finetune" mapstructure:"finetune"`
	Compare  Compare  `yaml:"compare" mapstructure:"compare"`
}

// Model says which backbone computes features.
type Model struct {
	// Name is a catalog model (gozoo zoo list); it sets arch, plugin,
	// weights, transform and classes. Give Name or Arch.
	Name string `yaml:"name" mapstructure:"name"`
	// Arch is an architecture a plugin offers (gozoo plugins).
	Arch string `yaml:"arch" mapstructure:"arch"`
	// Plugin picks the plugin serving Arch (default: gozoo's choice).
	Plugin string `yaml:"plugin" mapstructure:"plugin"`
	// Weights is a checkpoint (.pth, .safetensors); empty: seeded random.
	Weights string `yaml:"weights" mapstructure:"weights"`
	// Options are arch options (width, num_classes, ...).
	Options map[string]any `yaml:"options" mapstructure:"options"`
	// Layers are feature layers by PyTorch module name (default: the
	// model's own feature layer).
	Layers []string `yaml:"layers" mapstructure:"layers"`
	// Resize and Crop replace the eval transform's Resize (shorter side)
	// and CenterCrop ([S] or [H, W]); 0 and empty keep the model's.
	Resize int   `yaml:"resize" mapstructure:"resize"`
	Crop   []int `yaml:"crop" mapstructure:"crop"`
}

// Data says which images an experiment reads.
type Data struct {
	// Path is an image folder, an ImageFolder tree, a list file, an IDX
	// file, or scikit-learn's digits.csv.gz. Relative paths in a file are
	// relative to the file's folder; in --set, to the working directory.
	Path string `yaml:"path" mapstructure:"path"`
	// Format is auto, folder, imagefolder, list, idx or digits_csv.
	Format string `yaml:"format" mapstructure:"format"`
	// Limit keeps at most this many images, a seeded stratified sample
	// (0: all).
	Limit int `yaml:"limit" mapstructure:"limit"`
	// Val and Test are the shares held out, stratified by class; the rest
	// is the training split.
	Val  float64 `yaml:"val" mapstructure:"val"`
	Test float64 `yaml:"test" mapstructure:"test"`
	// Classes name labels 0, 1, ... for data that carries only numbers
	// (IDX, digits); an ImageFolder tree names its own.
	Classes []string `yaml:"classes" mapstructure:"classes"`
}

// Extract configures feature extraction.
type Extract struct {
	BatchSize int `yaml:"batch_size" mapstructure:"batch_size"`
	// Workers decode images while the model computes (0: one per CPU).
	Workers int `yaml:"workers" mapstructure:"workers"`
}

// Probe configures a probe on frozen features.
type Probe struct {
	// Method is logreg (multinomial logistic regression, L2) or knn
	// (cosine); the other is reported beside it.
	Method string `yaml:"method" mapstructure:"method"`
	// Standardize scales features to zero mean, unit variance (train
	// split statistics) before the probe.
	Standardize bool `yaml:"standardize" mapstructure:"standardize"`
	// CMin, CMax and Steps span the log-spaced sweep of the inverse
	// regularization C (scikit-learn's convention); Refine values are
	// then tried between the best value's neighbours.
	CMin    float64 `yaml:"c_min" mapstructure:"c_min"`
	CMax    float64 `yaml:"c_max" mapstructure:"c_max"`
	Steps   int     `yaml:"steps" mapstructure:"steps"`
	Refine  int     `yaml:"refine" mapstructure:"refine"`
	MaxIter int     `yaml:"max_iter" mapstructure:"max_iter"`
	// K is knn's number of neighbours.
	K int `yaml:"k" mapstructure:"k"`
}

// Finetune configures a fine-tune in the torch plugin.
type Finetune struct {
	Freeze      []string `yaml:"freeze" mapstructure:"freeze"`
	Unfreeze    []string `yaml:"unfreeze" mapstructure:"unfreeze"`
	Epochs      int      `yaml:"epochs" mapstructure:"epochs"`
	BatchSize   int      `yaml:"batch_size" mapstructure:"batch_size"`
	Optimizer   string   `yaml:"optimizer" mapstructure:"optimizer"`
	LR          float64  `yaml:"lr" mapstructure:"lr"`
	BackboneLR  float64  `yaml:"backbone_lr" mapstructure:"backbone_lr"`
	Momentum    float64  `yaml:"momentum" mapstructure:"momentum"`
	WeightDecay float64  `yaml:"weight_decay" mapstructure:"weight_decay"`
	Schedule    string   `yaml:"schedule" mapstructure:"schedule"`
	InputSize   []int    `yaml:"input_size" mapstructure:"input_size"`
	// Augment is gozoo finetune's --augment: default, none, or items
	// such as crop=0.08-1,flip=0.5,rotate=15.
	Augment string `yaml:"augment" mapstructure:"augment"`
}

// Compare is a sweep: every combination of the grid's values is a trial,
// a full run of kind Trial.
type Compare struct {
	Trial string `yaml:"trial" mapstructure:"trial"`
	Grid  []Axis `yaml:"grid" mapstructure:"grid"`
}

// Axis is one swept key and its values.
type Axis struct {
	// Key is a dotted path of the schema, e.g. model.layers or probe.k.
	Key    string `yaml:"key" mapstructure:"key"`
	Values []any  `yaml:"values" mapstructure:"values"`
}

// Default returns the values a config starts from.
func Default() Experiment {
	return Experiment{
		Version: Version,
		Seed:    0,
		RunsDir: "runs",
		Device:  "cpu",
		Data:    Data{Format: "auto", Val: 0.2, Test: 0.2},
		Extract: Extract{BatchSize: 64},
		Probe: Probe{Method: "logreg", Standardize: true, CMin: 1e-3, CMax: 1e3, Steps: 7,
			Refine: 4, MaxIter: 500, K: 20},
		Finetune: Finetune{Epochs: 3, BatchSize: 32, Optimizer: "sgd", LR: 0.01, Momentum: 0.9,
			WeightDecay: 1e-4, Schedule: "cosine", Augment: "default"},
		Compare: Compare{Trial: KindProbe},
	}
}

var (
	kinds       = []string{KindExtract, KindProbe, KindFinetune, KindCompare}
	formats     = []string{"auto", "folder", "imagefolder", "list", "idx", "digits_csv"}
	methods     = []string{"logreg", "knn"}
	optimizers  = []string{"sgd", "adamw"}
	schedules   = []string{"cosine", "step", "constant"}
	trialKinds  = []string{KindExtract, KindProbe, KindFinetune}
	devicesHint = "cpu, cuda, cuda:N or tensorrt"
)

func oneOf(v string, allowed []string) bool { return slices.Contains(allowed, v) }

// check validates values the schema's types cannot: returns the key at
// fault and a message.
func (e *Experiment) check() (string, string) {
	switch {
	case e.Version != Version:
		return "version", fmt.Sprintf("version %d: this gozoo reads version %d configs", e.Version, Version)
	case !oneOf(e.Kind, kinds):
		return "kind", fmt.Sprintf("kind %q: use one of %v", e.Kind, kinds)
	case e.Device == "":
		return "device", "device is empty: use " + devicesHint
	case e.Threads < 0:
		return "threads", "threads must be 0 (ONNX Runtime's default) or more"
	case e.RunsDir == "":
		return "runs_dir", "runs_dir is empty: name a folder for run folders"
	case e.Model.Name != "" && (e.Model.Arch != "" || e.Model.Weights != ""):
		return "model.name", "model.name sets arch and weights: drop model.arch and model.weights, or model.name"
	case e.Model.Name == "" && e.Model.Arch == "" && e.Model.Weights == "":
		return "model", "model needs name (a catalog model: gozoo zoo list) or arch"
	case e.Model.Resize < 0:
		return "model.resize", "model.resize must be positive, or 0 for the model's"
	case len(e.Model.Crop) > 2 || slices.ContainsFunc(e.Model.Crop, func(v int) bool { return v < 1 }):
		return "model.crop", "model.crop: give [S] or [H, W], positive"
	case e.Data.Path == "":
		return "data.path", "data.path is required: an image folder, ImageFolder tree, list, IDX or digits.csv.gz file"
	case !oneOf(e.Data.Format, formats):
		return "data.format", fmt.Sprintf("data.format %q: use one of %v", e.Data.Format, formats)
	case e.Data.Limit < 0:
		return "data.limit", "data.limit must be 0 (all) or more"
	case e.Data.Val < 0 || e.Data.Test < 0 || e.Data.Val+e.Data.Test >= 1:
		return "data.val", fmt.Sprintf("data.val %g and data.test %g: give shares >= 0 that leave a training split", e.Data.Val, e.Data.Test)
	case e.Extract.BatchSize < 1:
		return "extract.batch_size", "extract.batch_size must be 1 or more"
	case e.Extract.Workers < 0:
		return "extract.workers", "extract.workers must be 0 (one per CPU) or more"
	case !oneOf(e.Probe.Method, methods):
		return "probe.method", fmt.Sprintf("probe.method %q: use one of %v", e.Probe.Method, methods)
	case !(e.Probe.CMin > 0 && e.Probe.CMin < e.Probe.CMax):
		return "probe.c_min", fmt.Sprintf("probe.c_min %g and c_max %g: want 0 < c_min < c_max", e.Probe.CMin, e.Probe.CMax)
	case e.Probe.Steps < 2:
		return "probe.steps", "probe.steps must be 2 or more"
	case e.Probe.Refine < 0:
		return "probe.refine", "probe.refine must be 0 or more"
	case e.Probe.MaxIter < 1:
		return "probe.max_iter", "probe.max_iter must be 1 or more"
	case e.Probe.K < 1:
		return "probe.k", "probe.k must be 1 or more"
	case e.Finetune.Epochs < 1:
		return "finetune.epochs", "finetune.epochs must be 1 or more"
	case e.Finetune.BatchSize < 1:
		return "finetune.batch_size", "finetune.batch_size must be 1 or more"
	case !oneOf(e.Finetune.Optimizer, optimizers):
		return "finetune.optimizer", fmt.Sprintf("finetune.optimizer %q: use one of %v", e.Finetune.Optimizer, optimizers)
	case !oneOf(e.Finetune.Schedule, schedules):
		return "finetune.schedule", fmt.Sprintf("finetune.schedule %q: use one of %v", e.Finetune.Schedule, schedules)
	case e.Finetune.LR <= 0:
		return "finetune.lr", "finetune.lr must be positive"
	case len(e.Finetune.InputSize) > 2:
		return "finetune.input_size", "finetune.input_size: give [S] or [H, W]"
	}
	if e.Kind == KindCompare {
		if !oneOf(e.Compare.Trial, trialKinds) {
			return "compare.trial", fmt.Sprintf("compare.trial %q: use one of %v", e.Compare.Trial, trialKinds)
		}
		if len(e.Compare.Grid) == 0 {
			return "compare.grid", "compare.grid is empty: list {key: ..., values: [...]} axes"
		}
	}
	seen := map[string]bool{}
	for _, l := range e.Model.Layers {
		if l == "" || seen[l] {
			return "model.layers", fmt.Sprintf("model.layers names %q twice or empty", l)
		}
		seen[l] = true
	}
	return "", ""
}

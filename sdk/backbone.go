package sdk

import "context"

// ProtocolMinor is the minor version of the plugin protocol this package
// describes. The major version is the go-plugin handshake's
// ProtocolVersion; minors only add fields and RPCs. Minor 1 added
// ExtractRequest.Inputs (named input chunks after the first input). Minor
// 2 added InputSpec.BatchAxis on the wire and the loaded model's input
// in Load's answer (see InputDescriber).
const ProtocolMinor = 2

// Backbone is a family of architectures offered by one plugin. A host gets
// one from sdk/host; a plugin author implements it and passes it to
// sdk/plugin.Serve. Implementations must be safe for concurrent use.
type Backbone interface {
	// Describe returns the plugin's name, version, architectures and
	// capabilities.
	Describe(ctx context.Context) (*Description, error)
	// Load builds a model of one architecture, with weights or a seeded
	// random init. The caller must Close the returned Model.
	Load(ctx context.Context, req *LoadRequest) (Model, error)
}

// Model is one loaded network. Its methods are safe for concurrent use;
// Close releases the model's sessions and memory and is idempotent.
type Model interface {
	// Layers lists the feature layers in forward order, named by their
	// PyTorch module paths, with output shapes for req.InputShape (or the
	// architecture's default input when it is empty).
	Layers(ctx context.Context, req *LayersRequest) ([]Layer, error)
	// Extract runs one forward pass over req.Input and returns every
	// requested layer's output, in PyTorch's shape and layout.
	Extract(ctx context.Context, req *ExtractRequest) (*ExtractResponse, error)
	// Params lists the parameters (state_dict names without buffers) with
	// their shapes and trainable flags.
	Params(ctx context.Context) ([]Param, error)
	// SetTrainable freezes or unfreezes every parameter whose name matches
	// one of req.Patterns (see MatchPattern).
	SetTrainable(ctx context.Context, req *SetTrainableRequest) (*SetTrainableResponse, error)
	Close() error
}

// InputDescriber is implemented by models that say which input they take
// as loaded: the options a model was loaded with may change it from the
// architecture's default (Arch.Input), as a sequence model's layout moves
// the batch to dimension 1 ([T, N, F]). Models of sdk/backbone implement
// it, and so do the models sdk/host returns; for those of a plugin that
// did not report the input (protocol minor < 2, or a model that does not
// implement InputDescriber) Input returns the zero InputSpec, whose empty
// Shape means unknown: take the batch as the first dimension then.
type InputDescriber interface {
	Input() InputSpec
}

// LoadedOption is one option of a loaded model: the value in effect and
// where it came from.
type LoadedOption struct {
	Name   string
	Value  string
	Source string // "user", "checkpoint" or "default"
}

// OptionsDescriber is implemented by models that report their options as
// loaded, with the values a checkpoint set (models of sdk/backbone, and
// the models sdk/host returns for plugins that report them; others return
// none).
type OptionsDescriber interface {
	LoadedOptions() []LoadedOption
}

// Trainer is implemented by models that can train (Capabilities.Train).
// Train consumes batches from req.Batches and reports progress through
// events until the run ends, ctx is cancelled, or events returns an error.
type Trainer interface {
	Train(ctx context.Context, req *TrainRequest, events func(*TrainEvent) error) error
}

// Exporter is implemented by models that can write themselves as .pth or
// .onnx files (Capabilities.Export).
type Exporter interface {
	Export(ctx context.Context, req *ExportRequest) (*ExportResponse, error)
}

// Description says what a plugin offers.
type Description struct {
	Name          string // plugin name, as in gozoo-backbone-<name>
	Version       string
	ProtocolMinor int
	Archs         []Arch
	Capabilities  Capabilities
}

// Arch describes one architecture a plugin can load.
type Arch struct {
	Name    string
	Input   InputSpec
	Options []OptionSpec // options Load accepts in LoadRequest.Options
	Doc     string       // one line
}

// InputSpec is an architecture's default input: Shape uses -1 for the batch
// (and any other free) dimension, and BatchAxis says which dimension is
// the batch (0 for images; 1 for a [T, N, ...] sequence).
type InputSpec struct {
	Shape     []int64
	DType     DType
	BatchAxis int
}

// OptionSpec documents one architecture option such as num_classes.
type OptionSpec struct {
	Name    string
	Default string
	Usage   string
	// Path says the option's value is a file system path. The host makes
	// it absolute against its own working directory before the request
	// crosses to the plugin, whose working directory is its own.
	Path bool
}

// Capabilities lists what a plugin can do beyond the core contract.
type Capabilities struct {
	Extract bool
	Train   bool
	Export  bool
	Devices []string // e.g. "cpu", "cuda", "tensorrt"
	// WeightsFormats lists the checkpoint formats the plugin reads itself.
	// Empty means every format but FormatNone: pth, safetensors and onnx.
	// The host converts other checkpoints to one the plugin reads.
	WeightsFormats []WeightsFormat
}

// ReadsWeights reports whether a plugin with these capabilities reads
// checkpoints of format f itself. FormatNone (random init) is always read.
func (c Capabilities) ReadsWeights(f WeightsFormat) bool {
	if f == FormatNone || len(c.WeightsFormats) == 0 {
		return true
	}
	for _, g := range c.WeightsFormats {
		if g == f {
			return true
		}
	}
	return false
}

// WeightsFormat names a checkpoint format.
type WeightsFormat string

// Checkpoint formats a LoadRequest may name. FormatNone asks for a seeded
// random init.
const (
	FormatNone        WeightsFormat = ""
	FormatPTH         WeightsFormat = "pth"
	FormatSafetensors WeightsFormat = "safetensors"
	FormatONNX        WeightsFormat = "onnx"
)

// LoadRequest asks a Backbone for one model.
type LoadRequest struct {
	Arch    string
	Options map[string]string // architecture options, e.g. "num_classes": "37"
	// WeightsPath is a checkpoint file on the plugin's machine; empty means
	// a random init seeded by Seed.
	WeightsPath   string
	WeightsFormat WeightsFormat // guessed from the file extension when empty
	Seed          int64
	Device        string // "cpu" (default), "cuda", "cuda:N", "tensorrt"
	Threads       int    // intra-op threads; 0 lets the engine choose
}

// LayersRequest selects the input shape that Layers reports shapes for.
type LayersRequest struct {
	InputShape []int64
}

// Layer is one selectable feature layer.
type Layer struct {
	Name   string  // PyTorch module path, e.g. "layer3.5.conv2"
	Kind   string  // module class, e.g. "Conv2d", "Bottleneck"
	Shape  []int64 // output shape, -1 for the batch dimension
	Params int64   // parameters in this module and its children
}

// ExtractRequest is one batch for one forward pass.
type ExtractRequest struct {
	Layers []string // module paths; empty means the architecture's default output
	Input  *Tensor
	// Lengths optionally gives per-sequence valid lengths for sequence
	// models, as torch's pack_padded_sequence takes them.
	Lengths []int64
	// Inputs holds a model's further inputs by name, for models that take
	// more than one: an ONNX graph's inputs after the first, or a PyTorch
	// module's forward arguments after the first, named as the model's
	// inputs option names them. Their first dimension is the batch, as
	// Input's is. Plugins of protocol minor 0 take none.
	Inputs map[string]*Tensor
}

// ExtractResponse holds one tensor per requested layer, keyed by name.
type ExtractResponse struct {
	Outputs map[string]*Tensor
}

// Param is one parameter of a model.
type Param struct {
	Name      string
	Shape     []int64
	Trainable bool
}

// NumElements returns the parameter's element count.
func (p Param) NumElements() int64 { return NumElements(p.Shape) }

// SetTrainableRequest freezes (Trainable false) or unfreezes (true) the
// parameters matching any of Patterns.
type SetTrainableRequest struct {
	Patterns  []string
	Trainable bool
}

// SetTrainableResponse names the parameters a SetTrainable call matched.
type SetTrainableResponse struct {
	Matched []string
}

// TrainRequest configures a training run. Batches delivers training and
// validation data; the run ends when it is closed or Epochs are done.
type TrainRequest struct {
	Optimizer     string  // "sgd" or "adamw"
	LR            float64 // learning rate of the head
	BackboneLR    float64 // learning rate of unfrozen backbone parameters; 0 means LR
	WeightDecay   float64
	Momentum      float64
	Epochs        int
	Schedule      string // "cosine", "step" or "" (constant)
	Seed          int64
	Device        string
	CheckpointDir string
	ResumeFrom    string
	Batches       <-chan TrainBatch
}

// TrainBatch is one batch of training (Validation false) or validation
// data.
type TrainBatch struct {
	Input      *Tensor
	Labels     []int64
	Validation bool
	EndOfEpoch bool // marks the last batch of an epoch
}

// TrainEvent reports training progress.
type TrainEvent struct {
	Epoch, Step    int
	Loss           float64
	Accuracy       float64
	LR             float64
	ImagesPerSec   float64
	Validation     bool
	CheckpointPath string
	Message        string
}

// ExportRequest asks a model to write itself to Path as Format.
type ExportRequest struct {
	Path   string
	Format WeightsFormat // FormatPTH or FormatONNX
	Layers []string      // extra named outputs for an ONNX export
	Opset  int
}

// ExportResponse reports what an export wrote.
type ExportResponse struct {
	Path  string
	Bytes int64
}

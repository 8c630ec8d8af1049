package backbone

import (
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// Family is the set of architectures one plugin offers.
type Family struct {
	Name    string // the plugin's name, as in gozoo-backbone-<name>
	Version string
	Archs   []Arch
	// SessionOptions apply to every ONNX Runtime session the family's
	// models make, before the load request's threads and device; e.g.
	// ort.WithMemoryArena(false) for nets with large activations.
	SessionOptions []ort.Option
}

// Arch is one architecture of a family.
type Arch struct {
	Name string
	Doc  string // one line
	// Input is the default input Describe reports (the Net's Input for
	// the default options).
	Input   sdk.InputSpec
	Options []Option
	// New configures the architecture for o. An error names the option
	// at fault and wraps sdk.ErrBadOption.
	New func(o Options) (Net, error)

	// Adapt, when set, rewrites a checkpoint's keys to the module layout
	// (e.g. a bare nn.LSTM's keys, or legacy names) before anything else
	// reads them. It may return the map it was given.
	Adapt func(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error)
	// Infer, when set, returns the options a checkpoint's shapes
	// determine (e.g. num_classes from fc.weight), as option strings.
	// An error explains why the checkpoint is not one of this arch.
	Infer func(sd map[string]*sdk.Tensor) (map[string]string, error)
}

// Net is an architecture configured by its options.
type Net interface {
	// Input is the input the net accepts: Shape has -1 for the batch and
	// every other free dimension.
	Input() sdk.InputSpec
	// DefaultInput is the shape (batch -1) Layers reports for when asked
	// for none, e.g. [-1, 3, 224, 224].
	DefaultInput() []int64
	// DefaultLayer is the layer Extract returns when none is named.
	DefaultLayer() string
	// Build records the forward pass for an input of the given shape
	// (batch -1) into a new Builder. A shape the net cannot take is a
	// build error (Builder.Failf).
	Build(input []int64) *nn.Builder
}

// InputChecker is implemented by nets that check input shapes beyond
// rank, fixed dimensions and positive sizes (the default check), e.g.
// to bound sequence lengths or to give a hint about the layout. free says
// the batch dimension may be -1 (Layers) rather than a size (Extract).
type InputChecker interface {
	CheckInput(shape []int64, free bool) error
}

// ExtraInputs is implemented by nets whose graphs take inputs besides
// the first, such as sequence lengths. It returns them by graph input
// name for one request whose input has the given shape.
type ExtraInputs interface {
	ExtraInputs(req *sdk.ExtractRequest, input []int64) (map[string]*sdk.Tensor, error)
}

// InputHinter is implemented by nets for which the runtime's generic
// hint ("give [N, 3, H, W] float32") says too little, such as sequence
// models or token ids. InputHint says what to give instead of an input
// of dtype got; it follows the runtime's dtype and shape errors (an
// InputChecker words its own).
type InputHinter interface {
	InputHint(got sdk.DType) string
}

// WeightsChecker is implemented by nets that check a checkpoint against
// their configuration before the strict match, to say in their own terms
// what the match would report as a bare shape mismatch (e.g. a head that
// reads another feature than an option says). Its error wraps
// sdk.ErrWeights and says what to set.
type WeightsChecker interface {
	CheckWeights(sd map[string]*sdk.Tensor) error
}

// Ignorer is implemented by nets that accept a checkpoint's keys they do
// not use and ignore them, as torchvision's builders do for heads their
// options leave out (inception's aux heads with aux_logits=false). The
// keys it reports are dropped before the strict match.
type Ignorer interface {
	Ignores(key string) bool
}

// Hinter is implemented by nets that can explain a checkpoint that does
// not match them ("the checkpoint looks like resnet50"). The hint is
// appended to the mismatch error and starts with a space. For a net
// without one the runtime appends Family.FitsHint's: the family's archs
// whose state_dict the checkpoint is.
type Hinter interface {
	Hint(sd map[string]*sdk.Tensor) string
}

package lstm

import (
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Names of the graph inputs.
const (
	inputName   = "input"
	lengthsName = "lengths"
)

const (
	// defaultSteps is the sequence length Layers reports shapes for when
	// no input shape is given.
	defaultSteps = 16
	// maxSteps bounds the sequence length.
	maxSteps = 1 << 20
	// maxUnrolled bounds it with proj_size, whose layers are unrolled
	// over the steps.
	maxUnrolled = 1024
)

// net is one recurrent encoder: the torch module named arch ("lstm" or
// "gru") with an optional embedding in front and fc head behind.
type net struct {
	arch          string // "lstm" or "gru"; also the module's name
	rnn           nn.RNN
	numEmbeddings int64 // 0: float32 sequences, no embedding
	numClasses    int64 // fc outputs; 0: no fc
	fcBias        bool
	fcInput       string // one of fcInputs
}

func newNet(arch string, o backbone.Options) (backbone.Net, error) {
	n := &net{
		arch: arch,
		rnn: nn.RNN{
			Mode:          strings.ToUpper(arch),
			InputSize:     o.Int("input_size"),
			HiddenSize:    o.Int("hidden_size"),
			NumLayers:     o.Int("num_layers"),
			Bidirectional: o.Bool("bidirectional"),
			BatchFirst:    o.Bool("batch_first"),
			Bias:          o.Bool("bias"),
			ProjSize:      o.Int("proj_size"),
		},
		numEmbeddings: o.Int("num_embeddings"),
		numClasses:    o.Int("num_classes"),
		fcBias:        o.Bool("fc_bias"),
		fcInput:       o.String("fc_input"),
	}
	if d := o.Int("embedding_dim"); d > 0 {
		if n.numEmbeddings == 0 {
			return nil, fmt.Errorf("%s: embedding_dim without num_embeddings: %w: set num_embeddings too", arch, sdk.ErrBadOption)
		}
		if d != n.rnn.InputSize {
			return nil, fmt.Errorf("%s: embedding_dim %d differs from input_size %d: %w: the embedding feeds the %s, so they must agree", arch, d, n.rnn.InputSize, sdk.ErrBadOption, arch)
		}
	}
	if p := n.rnn.ProjSize; p > 0 && p >= n.rnn.HiddenSize {
		return nil, fmt.Errorf("%s: proj_size %d: %w: it must be below hidden_size %d", arch, p, sdk.ErrBadOption, n.rnn.HiddenSize)
	}
	return n, nil
}

// axes returns the positions of the steps and the batch in the input.
func (n *net) axes() (t, batch int) {
	if n.rnn.BatchFirst {
		return 1, 0
	}
	return 0, 1
}

// inputShape is the input's shape for T steps with a free batch.
func (n *net) inputShape(T int64) []int64 {
	s := []int64{T, -1}
	if n.rnn.BatchFirst {
		s = []int64{-1, T}
	}
	if n.numEmbeddings == 0 {
		s = append(s, n.rnn.InputSize)
	}
	return s
}

// Input is [N, T, F] or [T, N, F] float32, or [N, T] or [T, N] int64 token
// ids with an embedding.
func (n *net) Input() sdk.InputSpec {
	in := sdk.InputSpec{Shape: n.inputShape(-1), DType: sdk.Float32}
	if n.numEmbeddings > 0 {
		in.DType = sdk.Int64
	}
	_, in.BatchAxis = n.axes()
	return in
}

func (n *net) DefaultInput() []int64 { return n.inputShape(defaultSteps) }

func (n *net) DefaultLayer() string {
	if n.numClasses > 0 {
		return "fc"
	}
	return "last"
}

// InputHint says what to give in the input's layout.
func (n *net) InputHint(got sdk.DType) string {
	layout := "[T, N"
	if n.rnn.BatchFirst {
		layout = "[N, T"
	}
	if n.numEmbeddings > 0 {
		return "give token ids, " + layout + "] int64 (option batch_first picks the layout)"
	}
	hint := fmt.Sprintf("give %s, %d] float32 sequences (option batch_first picks the layout)", layout, n.rnn.InputSize)
	if got == sdk.Int64 {
		hint += "; token ids need an embedding (option num_embeddings)"
	}
	return hint
}

// CheckInput checks the layout and bounds the steps (more with proj_size,
// whose layers are unrolled).
func (n *net) CheckInput(shape []int64, free bool) error {
	want := n.inputShape(-1)
	bad := len(shape) != len(want)
	for i := 0; !bad && i < len(shape); i++ {
		bad = want[i] >= 0 && shape[i] != want[i]
	}
	ta, na := n.axes()
	if !bad {
		T, N := shape[ta], shape[na]
		bad = T < 1 || N == 0 || N < -1 || (N == -1 && !free)
	}
	if bad {
		return &sdk.ShapeError{What: "input", Want: want, Got: shape, Hint: n.InputHint(n.Input().DType)}
	}
	limit := int64(maxSteps)
	if n.rnn.ProjSize > 0 {
		limit = maxUnrolled
	}
	if T := shape[ta]; T > limit {
		return fmt.Errorf("%s: %w: %d steps; the plugin takes at most %d here: cut the sequences into windows", n.arch, sdk.ErrBadInput, T, limit)
	}
	return nil
}

// ExtraInputs checks the request's lengths (default: every sequence T
// steps long) and token ids and returns the lengths input.
func (n *net) ExtraInputs(req *sdk.ExtractRequest, shape []int64) (map[string]*sdk.Tensor, error) {
	if len(req.Inputs) > 0 {
		return nil, fmt.Errorf("%s: extract: %w: %s takes one input: give per-sequence lengths as Lengths", n.arch, sdk.ErrBadInput, n.arch)
	}
	ta, na := n.axes()
	T, N := shape[ta], shape[na]
	if n.numEmbeddings > 0 {
		if err := backbone.CheckTokenIDs(n.arch, req.Input, n.numEmbeddings); err != nil {
			return nil, err
		}
	}
	lens, err := backbone.SequenceLengths(n.arch, req.Lengths, T, N)
	if err != nil {
		return nil, err
	}
	return map[string]*sdk.Tensor{lengthsName: lens}, nil
}

// fcIn is the number of features fc takes when it reads input.
func (n *net) fcIn(input string) int64 {
	if input == "h_n_last" {
		return n.rnn.OutSize()
	}
	return n.rnn.Directions() * n.rnn.OutSize()
}

// CheckWeights says which fc_input a checkpoint's fc fits when it does
// not fit the one set (fc's other sizes come from the checkpoint).
func (n *net) CheckWeights(sd map[string]*sdk.Tensor) error {
	fc := sd["fc.weight"]
	if n.numClasses == 0 || fc == nil || len(fc.Shape) != 2 || fc.Shape[1] == n.fcIn(n.fcInput) {
		return nil
	}
	got := fc.Shape[1]
	var fits []string
	for _, c := range fcInputs {
		if n.fcIn(c) == got {
			fits = append(fits, c)
		}
	}
	var todo string
	switch len(fits) {
	case 0:
		todo = fmt.Sprintf("the module feeds its fc something else, which gozoo's %s cannot compute: save the state_dict without fc and extract last, mean or h_n", n.arch)
	case 1:
		todo = "set fc_input=" + fits[0]
	default:
		todo = "set fc_input to the one the module's forward feeds fc: " + strings.Join(fits, ", ")
	}
	return fmt.Errorf("fc takes %d features; fc_input=last/mean need %d, h_n needs %d, h_n_last needs %d (fc_input is %s): %w: %s",
		got, n.fcIn("last"), n.fcIn("h_n"), n.fcIn("h_n_last"), n.fcInput, sdk.ErrWeights, todo)
}

// Build records the forward pass for an input of the given shape (batch
// -1):
//
//	x = embedding(ids)                     # optional
//	output, (h_n, c_n) = lstm(pack(x, lengths))
//	last, mean = pooled(output, lengths)   # extra taps
//	fc(last | mean | cat(h_n[-D:]) | h_n[-1])  # optional
func (n *net) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder("Module")
	ta, na := n.axes()
	T := input[ta]
	var x nn.Value
	if n.numEmbeddings > 0 {
		ids := b.InputInt64(inputName, input, na)
		x = b.Embedding("embedding", ids, n.numEmbeddings, n.rnn.InputSize)
	} else {
		x = b.Input(inputName, input, na)
	}
	if n.rnn.BatchFirst {
		x = b.Transpose("", "", x, 1, 0, 2)
	}
	m := b.SeqMask(b.InputInt64(lengthsName, []int64{-1}, 0), T)
	var out nn.RNNOutput
	if n.arch == "gru" {
		out = b.GRU(n.arch, x, n.rnn, m)
	} else {
		out = b.LSTM(n.arch, x, n.rnn, m)
	}
	b.Alias("h_n", "HiddenState", out.HN)
	if n.arch == "lstm" {
		b.Alias("c_n", "CellState", out.CN)
	}
	last := b.MaskedLast("last", "LastValidStep", out.Seq, m)
	mean := b.MaskedMean("mean", "MeanValidSteps", out.Seq, m)
	if n.numClasses == 0 {
		return b
	}
	in := last
	states := n.rnn.NumLayers * n.rnn.Directions()
	switch n.fcInput {
	case "mean":
		in = mean
	case "h_n":
		var parts []nn.Value
		for i := states - n.rnn.Directions(); i < states; i++ {
			parts = append(parts, b.Take(out.HN, 0, i))
		}
		in = parts[0]
		if len(parts) > 1 {
			in = b.Concat("", 1, parts...)
		}
	case "h_n_last":
		in = b.Take(out.HN, 0, states-1)
	}
	b.Linear("fc", in, n.fcIn(n.fcInput), n.numClasses, n.fcBias)
	return b
}

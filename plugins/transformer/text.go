package transformer

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Names of the text encoder's graph inputs.
const (
	inputName   = "input"
	lengthsName = "lengths"
)

// defaultTokens is the sequence length Layers reports shapes for when no
// input shape is given (max_len when that is shorter).
const defaultTokens = 16

var textOptions = []backbone.Option{
	{Name: "num_embeddings", Kind: backbone.Int, Min: 1, Default: "10000", Usage: "vocabulary of the embedding (read from the checkpoint)"},
	{Name: "d_model", Kind: backbone.Int, Min: 1, Default: "512", Usage: "token features (read from the checkpoint)"},
	{Name: "nhead", Kind: backbone.Int, Min: 1, Default: "8", Usage: "attention heads, dividing d_model (not in checkpoints: give the model's)"},
	{Name: "dim_feedforward", Kind: backbone.Int, Min: 1, Default: "2048", Usage: "hidden features of each layer's feed-forward block (read from the checkpoint)"},
	{Name: "num_layers", Kind: backbone.Int, Min: 1, Max: 1024, Default: "6", Usage: "encoder layers (read from the checkpoint)"},
	{Name: "max_len", Kind: backbone.Int, Min: 1, Max: 1 << 20, Default: "512", Usage: "rows of pos_embedding, the longest sequence (read from the checkpoint)"},
	{Name: "norm_first", Kind: backbone.Bool, Default: "false", Usage: "TransformerEncoderLayer's norm_first: LayerNorm before attention and feed-forward (not in checkpoints)"},
	{Name: "activation", Kind: backbone.String, Default: "relu", Choices: []string{"relu", "gelu"}, Usage: "TransformerEncoderLayer's activation (not in checkpoints)"},
	{Name: "layer_norm_eps", Kind: backbone.Float, Default: "1e-05", Usage: "eps of every LayerNorm (not in checkpoints)"},
	{Name: "batch_first", Kind: backbone.Bool, Default: "true", Usage: "token ids [N, T] (true) or torch's default layout [T, N] (false); the layers' layout too (not in checkpoints)"},
	{Name: "final_norm", Kind: backbone.Bool, Default: "false", Usage: "TransformerEncoder's norm: a LayerNorm encoder.norm after the layers (read from the checkpoint)"},
	{Name: "pooling", Kind: backbone.String, Default: "mean", Choices: []string{"mean", "cls"}, Usage: "what fc reads and the default output: mean (over valid tokens) or cls (the first token)"},
	{Name: "num_classes", Kind: backbone.Int, Min: 0, Default: "0", Usage: "outputs of an nn.Linear head fc; 0: none (read from the checkpoint)"},
}

var textArch = backbone.Arch{
	Name:    "text_encoder",
	Doc:     "token embedding + learned positions + torch.nn.TransformerEncoder, padding-aware mean/cls pooling, optional fc",
	Input:   sdk.InputSpec{Shape: []int64{-1, defaultTokens}, DType: sdk.Int64},
	Options: textOptions,
	Infer:   inferText,
	New:     newText,
}

// text is one configured text encoder (see doc.go for its module).
type text struct {
	vocab, dModel, nhead, ff, layers, maxLen, numClasses int64
	normFirst, batchFirst, finalNorm                     bool
	activation, pooling                                  string
	eps                                                  float32
}

func newText(o backbone.Options) (backbone.Net, error) {
	n := &text{
		vocab: o.Int("num_embeddings"), dModel: o.Int("d_model"), nhead: o.Int("nhead"), ff: o.Int("dim_feedforward"),
		layers: o.Int("num_layers"), maxLen: o.Int("max_len"), numClasses: o.Int("num_classes"),
		normFirst: o.Bool("norm_first"), batchFirst: o.Bool("batch_first"), finalNorm: o.Bool("final_norm"),
		activation: o.String("activation"), pooling: o.String("pooling"), eps: float32(o.Float("layer_norm_eps")),
	}
	if n.dModel%n.nhead != 0 {
		return nil, fmt.Errorf("text_encoder: nhead %d does not divide d_model %d: %w: give the nhead the model was trained with", n.nhead, n.dModel, sdk.ErrBadOption)
	}
	if !(n.eps > 0) {
		return nil, fmt.Errorf("text_encoder: layer_norm_eps %g: %w: give a positive number", o.Float("layer_norm_eps"), sdk.ErrBadOption)
	}
	return n, nil
}

// axes returns the time and batch axes of the input and the layers.
func (n *text) axes() (tAxis, nAxis int) {
	if n.batchFirst {
		return 1, 0
	}
	return 0, 1
}

func (n *text) Input() sdk.InputSpec {
	_, nAxis := n.axes()
	return sdk.InputSpec{Shape: []int64{-1, -1}, DType: sdk.Int64, BatchAxis: nAxis}
}

func (n *text) DefaultInput() []int64 {
	s := []int64{-1, -1}
	tAxis, _ := n.axes()
	s[tAxis] = min(defaultTokens, n.maxLen)
	return s
}

func (n *text) DefaultLayer() string {
	if n.numClasses > 0 {
		return "fc"
	}
	return n.pooling
}

// CheckInput takes [N, T] (or [T, N]) token ids, T from 1 to max_len.
func (n *text) CheckInput(shape []int64, free bool) error {
	tAxis, nAxis := n.axes()
	layout := "[N, T]"
	if !n.batchFirst {
		layout = "[T, N]"
	}
	if len(shape) != 2 || shape[tAxis] < 1 || !(shape[nAxis] > 0 || free && shape[nAxis] == -1) {
		return &sdk.ShapeError{What: "input", Want: n.Input().Shape, Got: shape,
			Hint: "give " + layout + " int64 token ids (option batch_first picks the layout)"}
	}
	if T := shape[tAxis]; T > n.maxLen {
		return fmt.Errorf("text_encoder: input %s: %w: %d tokens, but pos_embedding holds positions for %d (max_len): cut the sequences to %d tokens",
			sdk.FormatShape(shape), sdk.ErrBadInput, T, n.maxLen, n.maxLen)
	}
	return nil
}

// ExtraInputs checks the token ids and returns the lengths: req.Lengths
// (each 1..T), or T for every sequence when none are given.
func (n *text) ExtraInputs(req *sdk.ExtractRequest, shape []int64) (map[string]*sdk.Tensor, error) {
	if len(req.Inputs) > 0 {
		return nil, fmt.Errorf("text_encoder: extract: %w: the model takes token ids and lengths, no named inputs", sdk.ErrBadInput)
	}
	if err := backbone.CheckTokenIDs("text_encoder", req.Input, n.vocab); err != nil {
		return nil, err
	}
	tAxis, nAxis := n.axes()
	lens, err := backbone.SequenceLengths("text_encoder", req.Lengths, shape[tAxis], shape[nAxis])
	if err != nil {
		return nil, err
	}
	return map[string]*sdk.Tensor{lengthsName: lens}, nil
}

// Build records TextEncoder.forward (doc.go) for ids of the given shape.
// The sequence length is read from the ids when the graph runs, so one
// graph serves every length. Every per-token layer outputs zeros at
// padded positions; the layers after it read its unmasked values, which
// padding keys never reach.
func (n *text) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder("TextEncoder")
	tAxis, _ := n.axes()
	ids := b.InputInt64(inputName, input, 0, 1)
	lengths := b.InputInt64(lengthsName, []int64{-1}, 0)
	d := n.dModel
	pos := b.Param("pos_embedding", []int64{n.maxLen, d}, nn.Normal(0, 0.02))
	x := b.Embedding("embedding", ids, n.vocab, d)
	p := b.Padding(lengths, ids, n.batchFirst)
	posT := b.SliceAs(pos, 0, ids, tAxis)
	if !n.batchFirst {
		posT = b.Unsqueeze(posT, 1)
	}
	x = b.Plus(x, posT)
	enc := b.Module("encoder", "TransformerEncoder", func() nn.Value {
		b.Within("layers", func() []nn.Value { // a ModuleList: not called, no layer
			for i := range n.layers {
				x = n.layer(b, strconv.FormatInt(i, 10), x, p)
			}
			return nil
		})
		if n.finalNorm {
			x = b.LayerNorm("norm", x, d, n.eps)
		}
		return x
	})
	for _, l := range b.LayerNames() {
		b.MapOutput(l, func(v nn.Value) nn.Value { return b.ZeroPadding(v, p) })
	}
	mean := b.MeanTokens("mean", "MeanValidTokens", enc, p)
	sh := enc.Shape()
	first := b.Node("cls", "FirstToken", "Gather", []nn.Value{enc, b.ConstInt(0)}, []int64{sh[1-tAxis], d}, nn.Int("axis", int64(tAxis)))
	if n.numClasses > 0 {
		in := mean
		if n.pooling == "cls" {
			in = first
		}
		b.Linear("fc", in, d, n.numClasses, true)
	}
	return b
}

// layer is torch.nn.TransformerEncoderLayer (eval: dropouts are the
// identity), post-norm or with norm_first.
func (n *text) layer(b *nn.Builder, name string, x nn.Value, p nn.Padding) nn.Value {
	d := n.dModel
	return b.Module(name, "TransformerEncoderLayer", func() nn.Value {
		n.declare(b)
		sa := func(h nn.Value) nn.Value {
			h = b.SelfAttention("self_attn", h, nn.Attention{EmbedDim: d, NumHeads: n.nhead, BatchFirst: n.batchFirst}, p.Keys)
			return b.Dropout("dropout1", h)
		}
		ff := func(h nn.Value) nn.Value {
			h = b.Linear("linear1", h, d, n.ff, true)
			if n.activation == "gelu" {
				h = b.GELU("", h) // F.gelu, not a module
			} else {
				h = b.Act("Relu", h)
			}
			h = b.Linear("linear2", b.Dropout("dropout", h), n.ff, d, true)
			return b.Dropout("dropout2", h)
		}
		if n.normFirst {
			x = b.Add("", x, sa(b.LayerNorm("norm1", x, d, n.eps)))
			return b.Add("", x, ff(b.LayerNorm("norm2", x, d, n.eps)))
		}
		x = b.LayerNorm("norm1", b.Add("", x, sa(x)), d, n.eps)
		return b.LayerNorm("norm2", b.Add("", x, ff(x)), d, n.eps)
	})
}

// declare declares a TransformerEncoderLayer's parameters in torch's
// registration order (self_attn, linear1, linear2, norm1, norm2), which
// named_parameters follows whatever order forward calls them in; the
// modules then share them.
func (n *text) declare(b *nn.Builder) {
	d, f := n.dModel, n.ff
	param := func(module, name string, init nn.Init, shape ...int64) {
		b.Within(module, func() []nn.Value { return []nn.Value{b.Param(name, shape, init)} })
	}
	kaiming := nn.Init{Kind: nn.InitKaimingUniform}
	xavier := math.Sqrt(6 / float64(4*d)) // in_proj_weight [3d, d]
	param("self_attn", "in_proj_weight", nn.Uniform(-xavier, xavier), 3*d, d)
	param("self_attn", "in_proj_bias", nn.Init{Kind: nn.InitZeros}, 3*d)
	param("self_attn.out_proj", "weight", kaiming, d, d)
	param("self_attn.out_proj", "bias", nn.Init{Kind: nn.InitZeros}, d)
	param("linear1", "weight", kaiming, f, d)
	param("linear1", "bias", nn.Uniform(-1/math.Sqrt(float64(d)), 1/math.Sqrt(float64(d))), f)
	param("linear2", "weight", kaiming, d, f)
	param("linear2", "bias", nn.Uniform(-1/math.Sqrt(float64(f)), 1/math.Sqrt(float64(f))), d)
	for _, norm := range []string{"norm1", "norm2"} {
		param(norm, "weight", nn.Init{Kind: nn.InitOnes}, d)
		param(norm, "bias", nn.Init{Kind: nn.InitZeros}, d)
	}
}

// inferText reads the sizes a TextEncoder state_dict's shapes set.
func inferText(sd map[string]*sdk.Tensor) (map[string]string, error) {
	shape := func(k string) []int64 { return shapeOf(sd, k) }
	emb, pos := shape("embedding.weight"), shape("pos_embedding")
	if len(emb) != 2 || len(pos) != 2 {
		return nil, fmt.Errorf("no 2-d embedding.weight and pos_embedding: %w: save the state_dict of a module laid out as the text_encoder arch documents (embedding, pos_embedding [max_len, d_model], encoder = nn.TransformerEncoder, optional fc)", sdk.ErrWeights)
	}
	out := map[string]string{
		"num_embeddings": fmt.Sprint(emb[0]),
		"d_model":        fmt.Sprint(emb[1]),
		"max_len":        fmt.Sprint(pos[0]),
		"final_norm":     strconv.FormatBool(sd["encoder.norm.weight"] != nil),
		"num_classes":    "0",
	}
	layers := 0
	for shape(fmt.Sprintf("encoder.layers.%d.self_attn.in_proj_weight", layers)) != nil {
		layers++
	}
	if layers > 0 {
		out["num_layers"] = fmt.Sprint(layers)
	}
	if l := shape("encoder.layers.0.linear1.weight"); len(l) == 2 {
		out["dim_feedforward"] = fmt.Sprint(l[0])
	}
	if fc := shape("fc.weight"); len(fc) == 2 {
		out["num_classes"] = fmt.Sprint(fc[0])
	}
	return out, nil
}

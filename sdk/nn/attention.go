package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// Attention configures torch.nn.MultiheadAttention(EmbedDim, NumHeads,
// batch_first=BatchFirst) with torch's defaults otherwise: one packed
// in_proj for query, key and value, biases, no bias_k/bias_v, no
// add_zero_attn.
type Attention struct {
	EmbedDim, NumHeads int64
	BatchFirst         bool
}

// SelfAttention adds module name as a torch.nn.MultiheadAttention called
// as self-attention, attn(x, x, x, key_padding_mask=...,
// need_weights=False)[0], over x [N, T, E] (BatchFirst) or [T, N, E]; the
// output has x's layout.
//
// Its parameters are torch's: NAME.in_proj_weight [3E, E] (query, key and
// value rows in that order), NAME.in_proj_bias [3E], and the output
// projection NAME.out_proj (a layer of torch's class
// NonDynamicallyQuantizableLinear, whose output is the module's). As
// torch computes it, each head's query is divided by sqrt(E/NumHeads)
// before the scores, keys get the additive mask, and softmax runs over
// the keys. keys is an additive float32 mask broadcast to the scores
// [N, NumHeads, T, T], such as Padding.Keys (0 at valid keys, -inf at
// padding); an invalid Value means no mask.
func (b *Builder) SelfAttention(name string, x Value, c Attention, keys Value) Value {
	const kind = "MultiheadAttention"
	if !b.checkRank(name, kind, x, 3) {
		return Value{b.placeholder()}
	}
	E, H := c.EmbedDim, c.NumHeads
	if E < 1 || H < 1 || E%H != 0 {
		b.Failf("%s (MultiheadAttention): embed_dim %d is not divisible by num_heads %d", b.Path(name), E, H)
		return Value{b.placeholder()}
	}
	if d := x.t.shape[2]; d >= 0 && d != E {
		b.Failf("%s (MultiheadAttention) expects %d features, got %s", b.Path(name), E, sdk.FormatShape(x.t.shape))
	}
	hd := E / H
	return b.Module(name, kind, func() Value {
		// torch's _reset_parameters: xavier_uniform_ in_proj, zero biases.
		bound := math.Sqrt(6 / float64(E+3*E))
		w := b.Param("in_proj_weight", []int64{3 * E, E}, Uniform(-bound, bound))
		bias := b.Param("in_proj_bias", []int64{3 * E}, Init{Kind: InitZeros})
		op := b.Within("out_proj", func() []Value {
			return []Value{b.Param("weight", []int64{E, E}, Init{Kind: InitKaimingUniform}), b.Param("bias", []int64{E}, Init{Kind: InitZeros})}
		})
		ow, ob := op[0], op[1]
		qkv := b.Plus(b.MatMul(x, b.Transpose("", "", w, 1, 0)), bias)
		// [N, T, 3E] -> [3, N, H, T, hd]; time-major input [T, N, 3E]
		// takes another permutation to the same place.
		qkv = b.Reshape(qkv, 0, 0, 3, H, hd)
		perm := []int64{2, 0, 3, 1, 4}
		if !c.BatchFirst {
			perm = []int64{2, 1, 3, 0, 4}
		}
		qkv = b.Transpose("", "", qkv, perm...)
		q, k, v := b.Take(qkv, 0, 0), b.Take(qkv, 0, 1), b.Take(qkv, 0, 2)
		q = b.Div(q, b.ConstFloat(float32(math.Sqrt(float64(hd)))))
		scores := b.BatchMatMul(q, b.Transpose("", "", k, 0, 1, 3, 2))
		if keys.t != nil {
			scores = b.Plus(scores, keys)
		}
		y := b.BatchMatMul(b.Softmax("", scores, -1), v) // [N, H, T, hd]
		if c.BatchFirst {
			y = b.Transpose("", "", y, 0, 2, 1, 3)
		} else {
			y = b.Transpose("", "", y, 2, 0, 1, 3)
		}
		y = b.Reshape(y, 0, 0, E)
		proj := b.MatMul(y, b.Transpose("", "", ow, 1, 0))
		return b.Binary("out_proj", "NonDynamicallyQuantizableLinear", "Add", proj, ob)
	})
}

// Padding holds the masks of a batch of padded token sequences, built by
// Builder.Padding from per-sequence lengths.
type Padding struct {
	// Valid is 1 at each sequence's valid tokens and 0 at padding, shaped
	// to multiply features: [N, T, 1] with the batch first, else [T, N, 1].
	Valid Value
	// Keys is torch's additive form of a key_padding_mask for
	// SelfAttention: 0 at valid keys, -inf at padded ones, [N, 1, 1, T].
	Keys Value
	// Lengths are the lengths as float32, [N, 1].
	Lengths    Value
	valid      Value // Valid as booleans
	batchFirst bool
}

// Padding builds the masks for int64 lengths [N] (each in 1..T, which
// the caller checks) of the sequences in x, [N, T, ...] with batchFirst
// and [T, N, ...] otherwise. T is read from x when the graph runs, so one
// graph serves every sequence length.
func (b *Builder) Padding(lengths, x Value, batchFirst bool) Padding {
	p := Padding{batchFirst: batchFirst}
	if lengths.t == nil || x.t == nil || len(lengths.t.shape) != 1 || lengths.t.dtype != sdk.Int64 || len(x.t.shape) < 2 {
		b.Failf("%s (Padding): want int64 lengths [N] and tokens of rank 2 or more", b.Path(""))
		ph := Value{b.placeholder()}
		return Padding{Valid: ph, Keys: ph, Lengths: ph}
	}
	tAxis, nAxis := 0, 1
	if batchFirst {
		tAxis, nAxis = 1, 0
	}
	T, N := x.t.shape[tAxis], x.t.shape[nAxis]
	steps := b.typed("", "", "Squeeze", sdk.Int64, []Value{b.Dims(x, tAxis, tAxis+1), b.ConstInts(0)}, nil)
	rng := b.typed("", "", "Range", sdk.Int64, []Value{b.ConstInt(0), steps, b.ConstInt(1)}, []int64{T})
	// valid[n, t] = t < lengths[n]; the bool tensor is typed int64 here
	// as only other nodes read it.
	valid := b.typed("", "", "Less", sdk.Int64, []Value{b.Unsqueeze(rng, 0), b.Unsqueeze(lengths, 1)}, []int64{N, T})
	vb := valid
	if !batchFirst {
		vb = b.Transpose("", "", vb, 1, 0)
	}
	p.valid = b.Unsqueeze(vb, 2)
	p.Valid = b.Cast(p.valid, sdk.Float32)
	keys := b.Node("", "", "Where", []Value{valid, b.ConstFloat(0), b.ConstFloat(float32(math.Inf(-1)))}, []int64{N, T})
	keys.t.dtype = sdk.Float32
	p.Keys = b.Reshape(keys, 0, 1, 1, -1)
	p.Lengths = b.Unsqueeze(b.Cast(lengths, sdk.Float32), 1)
	return p
}

// ZeroPadding returns x ([N, T, ...] or [T, N, ...] as the padding's
// layout) with padded positions set to +0, whatever they held.
func (b *Builder) ZeroPadding(x Value, p Padding) Value {
	if x.t == nil || p.valid.t == nil {
		b.Failf("%s (ZeroPadding): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	shape := b.broadcastShape(b.Path("")+" (Where)", x.t.shape, p.valid.t.shape)
	v := b.Node("", "", "Where", []Value{p.valid, x, b.ConstFloat(0)}, shape)
	v.t.dtype = x.t.dtype
	return v
}

// MeanTokens adds module name (class kind) as the mean of x ([N, T, F] or
// [T, N, F] as the padding's layout) over each sequence's valid tokens:
// the sum of x * valid over T (in float64, see sum64) divided by the
// length, [N, F].
func (b *Builder) MeanTokens(name, kind string, x Value, p Padding) Value {
	axis := int64(0)
	if p.batchFirst {
		axis = 1
	}
	sum := b.sum64(b.Mul(x, p.Valid), false, axis)
	return b.Binary(name, kind, "Div", sum, p.Lengths)
}

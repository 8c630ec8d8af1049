package nn

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
)

// RNN configures torch.nn.LSTM (Mode "LSTM") or torch.nn.GRU (Mode
// "GRU"). Bias is torch's bias argument (its default is true: write it
// out). ProjSize is LSTM's proj_size; 0 means none.
type RNN struct {
	Mode          string
	InputSize     int64
	HiddenSize    int64
	NumLayers     int64
	Bidirectional bool
	BatchFirst    bool
	Bias          bool
	ProjSize      int64
}

// Directions returns 2 for a bidirectional RNN and 1 otherwise.
func (c RNN) Directions() int64 {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// OutSize returns the size of one direction's hidden output: ProjSize
// when set, HiddenSize otherwise.
func (c RNN) OutSize() int64 {
	if c.ProjSize > 0 {
		return c.ProjSize
	}
	return c.HiddenSize
}

func (c RNN) gates() int64 {
	if c.Mode == "GRU" {
		return 3
	}
	return 4
}

// Mask describes the valid steps of a batch of padded sequences, built by
// SeqMask from per-sequence lengths. Every value is time-major.
type Mask struct {
	T       int64
	raw     Value // the int64 [N] lengths
	Valid   Value // [T, N, 1] float32: 1 where t < length
	Invalid Value // [T, N, 1] float32: 1 - Valid
	Last    Value // [T, N, 1] float32: 1 where t == length-1
	Lengths Value // [N, 1] float32
}

// SeqMask builds the masks of T steps from lengths, an int64 [N] value
// (each in 1..T, which the caller checks).
func (b *Builder) SeqMask(lengths Value, T int64) Mask {
	steps := make([]int64, T)
	for i := range steps {
		steps[i] = int64(i)
	}
	rng := b.Unsqueeze(b.ConstInts(steps...), 1) // [T, 1]
	n := int64(-1)
	if lengths.t != nil && len(lengths.t.shape) == 1 {
		n = lengths.t.shape[0]
	}
	shape := []int64{T, n}
	less := b.typed("", "", "Less", sdk.Int64, []Value{rng, lengths}, shape)
	valid := b.Unsqueeze(b.Cast(less, sdk.Float32), 2)
	lm1 := b.Binary("", "", "Sub", lengths, b.ConstInt(1))
	eq := b.typed("", "", "Equal", sdk.Int64, []Value{rng, lm1}, shape)
	last := b.Unsqueeze(b.Cast(eq, sdk.Float32), 2)
	return Mask{
		T:       T,
		raw:     lengths,
		Valid:   valid,
		Invalid: b.Sub(b.ConstFloat(1), valid),
		Last:    last,
		Lengths: b.Unsqueeze(b.Cast(lengths, sdk.Float32), 1),
	}
}

// MaskedLast adds module name (class kind) as the output at each
// sequence's last valid step: x is time-major [T, N, F], the result
// [N, F].
func (b *Builder) MaskedLast(name, kind string, x Value, m Mask) Value {
	return b.ReduceSum(name, kind, b.Mul(x, m.Last), false, 0)
}

// MaskedMean adds module name (class kind) as the mean of x over each
// sequence's valid steps: x is time-major [T, N, F], the result [N, F].
func (b *Builder) MaskedMean(name, kind string, x Value, m Mask) Value {
	sum := b.ReduceSum("", "", b.Mul(x, m.Valid), false, 0)
	return b.Binary(name, kind, "Div", sum, m.Lengths)
}

// RNNOutput is what an LSTM or GRU module computes.
type RNNOutput struct {
	// Output is torch's output tensor in the module's layout: [T, N, D*H']
	// ([N, T, D*H'] with BatchFirst), zero at padded steps.
	Output Value
	// Seq is Output time-major, whatever the layout.
	Seq Value
	// HN is h_n, [NumLayers*D, N, H']; CN is LSTM's c_n,
	// [NumLayers*D, N, HiddenSize] (invalid for a GRU).
	HN, CN Value
	// Layers are each stacked layer's outputs in the module's layout,
	// exposed as layers NAME.l0, NAME.l1, ...
	Layers []Value
}

// LSTM adds module name as a torch.nn.LSTM (c.Mode is set to "LSTM") over
// x, time-major [T, N, InputSize] whatever c.BatchFirst says; the outputs
// follow c.BatchFirst. Sequences are packed as pack_padded_sequence packs
// them: steps at or after a sequence's length (m) leave its state alone
// and output zeros, and the reverse direction starts at its last valid
// step.
//
// Parameters are torch's: NAME.weight_ih_l{k}[_reverse], weight_hh,
// bias_ih, bias_hh and (with ProjSize) weight_hr. Each layer is one ONNX
// LSTM node with sequence_lens, torch's gate blocks (i, f, g, o)
// reordered in the graph to ONNX's (i, o, f, c); ONNX's LSTM has no
// projection, so with ProjSize the layer is unrolled over m.T steps with
// torch's gate order kept as it is.
func (b *Builder) LSTM(name string, x Value, c RNN, m Mask) RNNOutput {
	c.Mode = "LSTM"
	return b.rnn(name, x, c, m)
}

// GRU adds module name as a torch.nn.GRU, as LSTM does for torch.nn.LSTM:
// one ONNX GRU node per layer, torch's gate blocks (r, z, n) reordered to
// ONNX's (z, r, h), with linear_before_reset=1 so that the reset gate
// applies after the hidden projection as in torch: n = tanh(W_in x + b_in
// + r * (W_hn h + b_hn)).
func (b *Builder) GRU(name string, x Value, c RNN, m Mask) RNNOutput {
	c.Mode = "GRU"
	c.ProjSize = 0
	return b.rnn(name, x, c, m)
}

// cell holds one direction's parameters.
type cell struct {
	wih, whh, bih, bhh, whr Value
}

func (b *Builder) rnn(name string, x Value, c RNN, m Mask) RNNOutput {
	var res RNNOutput
	if !b.checkRank(name, c.Mode, x, 3) {
		p := Value{b.placeholder()}
		return RNNOutput{Output: p, Seq: p, HN: p, CN: p}
	}
	if c.HiddenSize < 1 || c.NumLayers < 1 || c.InputSize < 1 || c.ProjSize < 0 || (c.ProjSize > 0 && c.ProjSize >= c.HiddenSize) {
		b.Failf("%s (%s): bad sizes: input_size %d, hidden_size %d, num_layers %d, proj_size %d (proj_size must be below hidden_size)",
			b.Path(name), c.Mode, c.InputSize, c.HiddenSize, c.NumLayers, c.ProjSize)
	}
	if f := x.t.shape[2]; f >= 0 && f != c.InputSize {
		b.Failf("%s (%s) expects %d input features, got %s", b.Path(name), c.Mode, c.InputSize, sdk.FormatShape(x.t.shape))
	}
	if m.raw.t == nil {
		b.Failf("%s (%s): the mask has no lengths: build it with SeqMask", b.Path(name), c.Mode)
	}
	if t := x.t.shape[0]; t >= 0 && t != m.T {
		b.Failf("%s (%s): input has %d steps, the mask %d", b.Path(name), c.Mode, t, m.T)
	}
	var hs, cs []Value
	out := b.Module(name, c.Mode, func() Value {
		seq := x
		var tap Value
		bound := 1 / math.Sqrt(float64(c.HiddenSize))
		init := Uniform(-bound, bound)
		g := c.gates() * c.HiddenSize
		for l := int64(0); l < c.NumLayers; l++ {
			in := c.InputSize
			if l > 0 {
				in = c.Directions() * c.OutSize()
			}
			var cells []cell
			for d := int64(0); d < c.Directions(); d++ {
				sfx := fmt.Sprintf("_l%d", l)
				if d == 1 {
					sfx += "_reverse"
				}
				var ce cell
				ce.wih = b.Param("weight_ih"+sfx, []int64{g, in}, init)
				ce.whh = b.Param("weight_hh"+sfx, []int64{g, c.OutSize()}, init)
				if c.Bias {
					ce.bih = b.Param("bias_ih"+sfx, []int64{g}, init)
					ce.bhh = b.Param("bias_hh"+sfx, []int64{g}, init)
				}
				if c.ProjSize > 0 {
					ce.whr = b.Param("weight_hr"+sfx, []int64{c.ProjSize, c.HiddenSize}, init)
				}
				cells = append(cells, ce)
			}
			if c.ProjSize == 0 {
				var h, cc []Value
				seq, h, cc = b.nativeLayer(c, seq, cells, m)
				hs, cs = append(hs, h...), append(cs, cc...)
			} else {
				var ys []Value
				for d, ce := range cells {
					y, h, cc := b.direction(c, seq, ce, m, d == 1)
					ys = append(ys, y)
					hs = append(hs, h)
					cs = append(cs, cc)
				}
				if len(ys) == 1 {
					seq = ys[0]
				} else {
					seq = b.Concat("", 2, ys...)
				}
			}
			res.Seq = seq
			if c.BatchFirst {
				tap = b.Transpose(fmt.Sprintf("l%d", l), c.Mode+"Layer", seq, 1, 0, 2)
			} else {
				tap = b.Alias(fmt.Sprintf("l%d", l), c.Mode+"Layer", seq)
			}
			res.Layers = append(res.Layers, tap)
		}
		return tap
	})
	res.Output = out
	stack := func(vs []Value) Value {
		us := make([]Value, len(vs))
		for i, v := range vs {
			us[i] = b.Unsqueeze(v, 0)
		}
		if len(us) == 1 {
			return us[0]
		}
		return b.Concat("", 0, us...)
	}
	if len(hs) > 0 {
		res.HN = stack(hs)
		if c.Mode == "LSTM" {
			res.CN = stack(cs)
		}
	}
	return res
}

// add, mul and lin treat an invalid Value as zero, for the zero initial
// state and absent biases.
func (b *Builder) add(x, y Value) Value {
	switch {
	case x.t == nil:
		return y
	case y.t == nil:
		return x
	}
	return b.Plus(x, y)
}

// lin is x @ w^T (+ bias), zero when x is.
func (b *Builder) lin(x, w, bias Value) Value {
	if x.t == nil {
		return bias
	}
	wt := b.Transpose("", "", w, 1, 0)
	return b.add(b.MatMul(x, wt), bias)
}

// direction runs one direction of one LSTM layer with a projection over
// seq [T, N, In], unrolled, and returns its outputs [T, N, H'] and final
// h [N, H'] and c [N, H].
func (b *Builder) direction(c RNN, seq Value, ce cell, m Mask, reverse bool) (y, hT, cT Value) {
	var h, cell Value // zero initial state
	// Input projections of every step at once.
	pre := b.lin(seq, ce.wih, Value{})
	if c.Bias {
		pre = b.add(pre, b.Plus(ce.bih, ce.bhh))
	}
	ys := make([]Value, m.T)
	for i := int64(0); i < m.T; i++ {
		t := i
		if reverse {
			t = m.T - 1 - i
		}
		xt := b.Take(pre, 0, t)
		valid := b.Take(m.Valid, 0, t)
		invalid := b.Take(m.Invalid, 0, t)
		gates := b.add(xt, b.lin(h, ce.whh, Value{}))
		p := b.Split(gates, 1, 4) // torch's i, f, g, o
		ig, fg := b.Act("Sigmoid", p[0]), b.Act("Sigmoid", p[1])
		gg, og := b.Act("Tanh", p[2]), b.Act("Sigmoid", p[3])
		cNew := b.Mul(ig, gg)
		if cell.t != nil {
			cNew = b.Plus(b.Mul(fg, cell), cNew)
		}
		hNew := b.lin(b.Mul(og, b.Act("Tanh", cNew)), ce.whr, Value{})
		// Padded steps keep the state and output zeros.
		ys[t] = b.Mul(valid, hNew)
		if h.t == nil {
			h = ys[t]
			cell = b.Mul(valid, cNew)
		} else {
			h = b.Plus(ys[t], b.Mul(invalid, h))
			cell = b.Plus(b.Mul(valid, cNew), b.Mul(invalid, cell))
		}
	}
	us := make([]Value, len(ys))
	for i, v := range ys {
		us[i] = b.Unsqueeze(v, 0)
	}
	if len(us) == 1 {
		return us[0], h, cell
	}
	return b.Concat("", 0, us...), h, cell
}

// onnxInt32 is ONNX's INT32 element type, which sequence_lens takes.
const onnxInt32 = 6

// nativeLayer runs one layer (both directions) as one ONNX LSTM or GRU
// node with sequence_lens, which ONNX Runtime runs as a fused kernel
// whatever the length. torch's gate blocks are reordered for ONNX by
// graph nodes over the state_dict initializers (folded when a session
// starts): LSTM i, f, g, o becomes i, o, f, c; GRU r, z, n becomes z, r,
// h, with linear_before_reset=1 as torch computes n. It returns the
// layer's time-major output [T, N, D*H] (zero at padded steps) and each
// direction's final h and c [N, H].
func (b *Builder) nativeLayer(c RNN, seq Value, cells []cell, m Mask) (Value, []Value, []Value) {
	g := int(c.gates())
	order := []int{0, 3, 1, 2} // LSTM: i, o, f, c from i, f, g, o
	if c.Mode == "GRU" {
		order = []int{1, 0, 2} // z, r, h from r, z, n
	}
	reorder := func(w Value) Value {
		p := b.Split(w, 0, g)
		q := make([]Value, g)
		for i, j := range order {
			q[i] = p[j]
		}
		return b.Concat("", 0, q...)
	}
	var ws, rs, bs []Value
	for _, ce := range cells {
		ws = append(ws, b.Unsqueeze(reorder(ce.wih), 0))
		rs = append(rs, b.Unsqueeze(reorder(ce.whh), 0))
		if c.Bias {
			bs = append(bs, b.Unsqueeze(b.Concat("", 0, reorder(ce.bih), reorder(ce.bhh)), 0))
		}
	}
	D, H := c.Directions(), c.HiddenSize
	if !c.Bias {
		bs = []Value{b.typed("", "", "ConstantOfShape", sdk.Float32, []Value{b.ConstInts(D, 2*int64(g)*H)}, []int64{D, 2 * int64(g) * H})}
	}
	cat := func(vs []Value) Value {
		if len(vs) == 1 {
			return vs[0]
		}
		return b.Concat("", 0, vs...)
	}
	lens := b.typed("", "", "Cast", sdk.Int64, []Value{m.raw}, m.raw.t.shape, Int("to", onnxInt32))
	T, N := seq.t.shape[0], seq.t.shape[1]
	dir := "forward"
	if D == 2 {
		dir = "bidirectional"
	}
	attrs := []Attr{Int("hidden_size", H), String("direction", dir)}
	shapes := [][]int64{{T, D, N, H}, {D, N, H}}
	if c.Mode == "GRU" {
		attrs = append(attrs, Int("linear_before_reset", 1))
	} else {
		shapes = append(shapes, []int64{D, N, H})
	}
	outs := b.multi(c.Mode, []Value{seq, cat(ws), cat(rs), cat(bs), lens}, shapes, attrs...)
	y := b.Transpose("", "", outs[0], 0, 2, 1, 3) // [T, N, D, H]
	y = b.Node("", "", "Reshape", []Value{y, b.ConstInts(0, 0, -1)}, []int64{T, N, D * H})
	y = b.Mul(y, m.Valid)
	var hs, cs []Value
	for d := int64(0); d < D; d++ {
		hs = append(hs, b.Take(outs[1], 0, d))
		if c.Mode == "LSTM" {
			cs = append(cs, b.Take(outs[2], 0, d))
		} else {
			cs = append(cs, Value{})
		}
	}
	return y, hs, cs
}

// multi adds a functional node with several float32 outputs.
func (b *Builder) multi(op string, inputs []Value, shapes [][]int64, attrs ...Attr) []Value {
	nd := &node{op: op, attrs: attrs}
	for i, v := range inputs {
		if v.t == nil {
			b.Failf("%s: input %d of %s is missing", b.Path(""), i, op)
			v = Value{b.placeholder()}
		}
		nd.inputs = append(nd.inputs, v.t)
	}
	b.anon++
	base := b.Path("") + "/" + op + "_" + strconv.Itoa(b.anon)
	out := make([]Value, len(shapes))
	for i, sh := range shapes {
		t := &tensor{name: base + ":" + strconv.Itoa(i), shape: append([]int64(nil), sh...), dtype: sdk.Float32}
		nd.outputs = append(nd.outputs, t)
		out[i] = Value{t}
	}
	b.nodes = append(b.nodes, nd)
	return out
}

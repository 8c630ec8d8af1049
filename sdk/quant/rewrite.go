package quant

import (
	"fmt"
	"math"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
)

// qdq rewrites g, whose tensors in pl carry calibrated parameters, into
// the QDQ form ONNX Runtime fuses into integer kernels:
//
//   - every quantized tensor T gets one QuantizeLinear after its producer
//     and one DequantizeLinear per reader (a node input or the graph
//     output T), so a Conv reads DQ(x), DQ(w), DQ(b) and writes Q(y);
//   - weights of Conv, Gemm and MatMul become int8 per output channel
//     (DequantizeLinear with an axis), biases int32 at the input's scale
//     times the weight's;
//   - the graph's outputs keep their names and float type: a requested
//     layer is the dequantized value of its tensor.
//
// Names stay meaningful: the producer of T writes T_float, the
// QuantizeLinear T_quantized, and the DequantizeLinear feeding the graph
// output (or the first reader) T itself.
func (g *graph) qdq(pl *plan, at actType, wmax int32) error {
	if v := g.opset(); v < 13 {
		return fmt.Errorf("quant: %w: the model imports opset %d; per-channel DequantizeLinear needs 13 or newer: re-export it at opset 13 or newer", sdk.ErrUnsupported, v)
	}
	pre := map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}
	post := map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}
	var head []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto

	// Activation parameters, one pair of initializers per root tensor.
	type qparams struct{ scale, zero string }
	made := map[string]qparams{}
	paramsOf := func(t *tensorPlan) qparams {
		r := pl.root(t)
		if p, ok := made[r.name]; ok {
			return p
		}
		p := qparams{g.fresh(r.name + "_scale"), g.fresh(r.name + "_zero_point")}
		inits = append(inits, floatTensor(p.scale, nil, []float32{r.scale}), byteTensor(p.zero, at.elem, nil, []int32{r.zero}))
		made[r.name] = p
		return p
	}

	// Weights and biases first: they need the input's scale, read from
	// the node's original input names.
	for _, p := range pl.nodes {
		if p.kind != kindWeighted {
			continue
		}
		in := pl.tensors[p.n.Input[0]]
		if in == nil {
			return fmt.Errorf("quant: %s: input %s has no parameters (a bug)", p.n.GetName(), p.n.Input[0])
		}
		dq, more, err := g.quantizeWeights(p, pl.root(in).scale, wmax)
		if err != nil {
			return err
		}
		pre[p.n] = append(pre[p.n], dq...)
		inits = append(inits, more...)
		if p.n.GetOpType() == "Gemm" {
			// ONNX Runtime's QDQ Gemm rule reads beta; write both out.
			setAttrFloat(p.n, "alpha", 1)
			setAttrFloat(p.n, "beta", 1)
		}
	}

	for _, name := range pl.order {
		t := pl.tensors[name]
		qp := paramsOf(t)
		uses := g.uses[name]
		src := name
		prod := g.producer[name]
		if prod != nil {
			src = g.fresh(name + "_float")
			for i, o := range prod.Output {
				if o == name {
					prod.Output[i] = src
				}
			}
		}
		qName := g.fresh(name + "_quantized")
		q := &onnxpb.NodeProto{Name: g.fresh(name + "_QuantizeLinear"), OpType: "QuantizeLinear",
			Input: []string{src, qp.scale, qp.zero}, Output: []string{qName}}
		dq := func(out string) *onnxpb.NodeProto {
			return &onnxpb.NodeProto{Name: g.fresh(out + "_DequantizeLinear"), OpType: "DequantizeLinear",
				Input: []string{qName, qp.scale, qp.zero}, Output: []string{out}}
		}
		// The DequantizeLinear named as the tensor: the graph output's,
		// else the first reader's (a graph input keeps its own name).
		named := prod != nil
		after := []*onnxpb.NodeProto{q}
		if g.outputs[name] {
			after = append(after, dq(name))
			named = false
		}
		for _, u := range uses {
			out := name
			if !named {
				out = g.fresh(name + "_dequantized")
			}
			named = false
			u.n.Input[u.slot] = out
			pre[u.n] = append(pre[u.n], dq(out))
		}
		if prod == nil {
			head = append(head, after...)
		} else {
			post[prod] = append(post[prod], after...)
		}
	}

	nodes := head
	for _, n := range g.g.Node {
		nodes = append(nodes, pre[n]...)
		nodes = append(nodes, n)
		nodes = append(nodes, post[n]...)
	}
	g.g.Node = nodes
	g.g.Initializer = append(g.g.Initializer, inits...)
	g.dropUnused()
	g.index()
	return nil
}

// opset returns the version of the default ONNX domain the model imports.
func (g *graph) opset() int64 {
	for _, o := range g.m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// quantizeWeights makes the int8 weight (symmetric, per channel along
// p.axis, values in [-wmax, wmax]) and int32 bias of a weighted node with
// input scale sa, points the node at their DequantizeLinear outputs and
// returns those nodes and the new initializers.
func (g *graph) quantizeWeights(p *nodePlan, sa float32, wmax int32) ([]*onnxpb.NodeProto, []*onnxpb.TensorProto, error) {
	n := p.n
	wt, w := g.floatInit(n.Input[1])
	if wt == nil {
		return nil, nil, fmt.Errorf("quant: %s: weight %s is not a float constant (a bug)", n.GetName(), n.Input[1])
	}
	dims := wt.GetDims()
	c := dims[p.axis]
	inner := int64(1)
	for _, d := range dims[p.axis+1:] {
		inner *= d
	}
	// Per-channel scales: the largest magnitude maps to wmax.
	scales := make([]float64, c)
	for i, x := range w {
		ch := (int64(i) / inner) % c
		scales[ch] = math.Max(scales[ch], math.Abs(float64(x)))
	}
	var b []float32
	if p.bias >= 0 {
		_, b = g.floatInit(n.Input[p.bias])
	}
	for ch := range scales {
		scales[ch] /= float64(wmax)
		if scales[ch] == 0 {
			scales[ch] = 1 // an all-zero channel
		}
		// The int32 bias must hold b / (sa * sw): widen a weight scale
		// that would overflow it.
		if b != nil {
			if need := math.Abs(float64(b[ch])) / (float64(sa) * float64(math.MaxInt32-1)); need > scales[ch] {
				scales[ch] = need
			}
		}
	}
	qw := make([]int32, len(w))
	for i, x := range w {
		ch := (int64(i) / inner) % c
		qw[i] = int32(math.Max(-float64(wmax), math.Min(float64(wmax), math.Round(float64(x)/scales[ch]))))
	}
	sw := make([]float32, c)
	for i, s := range scales {
		sw[i] = float32(s)
	}
	base := n.Input[1]
	qName, sName, zName := g.fresh(base+"_quantized"), g.fresh(base+"_scale"), g.fresh(base+"_zero_point")
	wOut := g.fresh(base + "_dequantized")
	inits := []*onnxpb.TensorProto{
		byteTensor(qName, typeInt8, dims, qw),
		floatTensor(sName, []int64{c}, sw),
		byteTensor(zName, typeInt8, []int64{c}, make([]int32, c)),
	}
	nodes := []*onnxpb.NodeProto{{Name: g.fresh(base + "_DequantizeLinear"), OpType: "DequantizeLinear",
		Input: []string{qName, sName, zName}, Output: []string{wOut}, Attribute: []*onnxpb.AttributeProto{intAttr("axis", int64(p.axis))}}}
	n.Input[1] = wOut
	if b != nil {
		bbase := n.Input[p.bias]
		qb := make([]int32, c)
		sb := make([]float32, c)
		for ch := range qb {
			s := float64(sa) * scales[ch]
			sb[ch] = float32(s)
			qb[ch] = int32(math.Max(-math.MaxInt32, math.Min(math.MaxInt32, math.Round(float64(b[ch])/s))))
		}
		qName, sName, zName := g.fresh(bbase+"_quantized"), g.fresh(bbase+"_scale"), g.fresh(bbase+"_zero_point")
		bOut := g.fresh(bbase + "_dequantized")
		inits = append(inits, int32Tensor(qName, []int64{c}, qb), floatTensor(sName, []int64{c}, sb), int32Tensor(zName, []int64{c}, make([]int32, c)))
		nodes = append(nodes, &onnxpb.NodeProto{Name: g.fresh(bbase + "_DequantizeLinear"), OpType: "DequantizeLinear",
			Input: []string{qName, sName, zName}, Output: []string{bOut}, Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}})
		n.Input[p.bias] = bOut
	}
	return nodes, inits, nil
}

// actType is the 8-bit type of quantized activations.
type actType struct {
	elem       int32
	qmin, qmax int32
}

var (
	actUint8 = actType{typeUint8, 0, 255}
	actInt8  = actType{typeInt8, -128, 127}
)

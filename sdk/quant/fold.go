package quant

import (
	"math"

	"github.com/gozoo/gozoo/internal/onnxpb"
)

// FoldBatchNorm returns model with every BatchNormalization that follows
// a Conv folded into that Conv's weight and bias, as PyTorch's eval mode
// computes it: w' = w * gamma / sqrt(var + eps) per output channel and
// b' = (b - mean) * gamma / sqrt(var + eps) + beta. The Conv then writes
// the batch norm's output (its tensor name), so layer names that name
// the batch norm keep naming the same values.
//
// A batch norm stays when the Conv's output is read by anything else or
// is a graph output (a requested layer), or when its parameters are not
// constants.
func FoldBatchNorm(model []byte) ([]byte, error) {
	g, err := parse(model)
	if err != nil {
		return nil, err
	}
	g.foldBatchNorms()
	return g.marshal()
}

// foldBatchNorms folds what FoldBatchNorm folds and returns, per Conv
// node name, the name of the batch-norm node folded into it.
func (g *graph) foldBatchNorms() map[string]string {
	folded := map[string]string{}
	var kept []*onnxpb.NodeProto
	for _, bn := range g.g.Node {
		if bn.GetOpType() != "BatchNormalization" || !g.fold(bn) {
			kept = append(kept, bn)
			continue
		}
		conv := g.producer[bn.Input[0]]
		folded[conv.GetName()] = bn.GetName()
		conv.Output[0] = bn.Output[0]
		g.producer[bn.Output[0]] = conv
	}
	if len(folded) > 0 {
		g.g.Node = kept
		g.dropUnused()
		g.index()
	}
	return folded
}

// fold folds bn into the Conv before it when it can, rewriting the Conv's
// weight and bias; it reports whether it did.
func (g *graph) fold(bn *onnxpb.NodeProto) bool {
	if len(bn.Input) != 5 || len(bn.Output) == 0 || attrInt(bn, "training_mode", 0) != 0 {
		return false
	}
	for _, o := range bn.Output[1:] {
		if o != "" {
			return false // training outputs
		}
	}
	x := bn.Input[0]
	conv := g.producer[x]
	if conv == nil || conv.GetOpType() != "Conv" || len(conv.Input) < 2 || len(g.uses[x]) != 1 || g.outputs[x] || conv.Output[0] != x {
		return false
	}
	wt, w := g.floatInit(conv.Input[1])
	if wt == nil || len(wt.GetDims()) < 3 {
		return false
	}
	c := wt.GetDims()[0]
	if c <= 0 {
		return false
	}
	var params [4][]float32 // gamma, beta, mean, var
	for i := range params {
		t, v := g.floatInit(bn.Input[1+i])
		if t == nil || int64(len(v)) != c {
			return false
		}
		params[i] = v
	}
	var b []float32
	if len(conv.Input) > 2 && conv.Input[2] != "" {
		bt, v := g.floatInit(conv.Input[2])
		if bt == nil || int64(len(v)) != c {
			return false
		}
		b = v
	}
	eps := float64(attrFloat(bn, "epsilon", 1e-5))
	per := int64(len(w)) / c
	nw := make([]float32, len(w))
	nb := make([]float32, c)
	for o := int64(0); o < c; o++ {
		s := float64(params[0][o]) / math.Sqrt(float64(params[3][o])+eps)
		for i := o * per; i < (o+1)*per; i++ {
			nw[i] = float32(float64(w[i]) * s)
		}
		bias := 0.0
		if b != nil {
			bias = float64(b[o])
		}
		nb[o] = float32((bias-float64(params[2][o]))*s + float64(params[1][o]))
	}
	// New initializers, so that a weight or bias another node reads
	// keeps its values.
	wname := g.fresh(conv.Input[1] + "_folded")
	bname := g.fresh(bn.GetName() + ".folded_bias")
	g.g.Initializer = append(g.g.Initializer, floatTensor(wname, wt.GetDims(), nw), floatTensor(bname, []int64{c}, nb))
	conv.Input[1] = wname
	if len(conv.Input) > 2 {
		conv.Input[2] = bname
	} else {
		conv.Input = append(conv.Input, bname)
	}
	return true
}

package quant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
)

// kind is how a node is quantized.
type kind int

const (
	kindNone     kind = iota
	kindWeighted      // Conv, Gemm, MatMul with a constant weight: int8 weights per channel
	kindMatMul        // MatMul of two activations
	kindBinary        // Add, Mul of two activations
	kindPool          // AveragePool, GlobalAveragePool: own output parameters
	kindMaxPool       // MaxPool: the output shares the input's parameters
	kindConcat        // Concat of activations
	kindPass          // Flatten, Reshape, ...: data movement, output shares the input's parameters
)

// nodePlan is the quantization of one node.
type nodePlan struct {
	n    *onnxpb.NodeProto
	kind kind
	acts []int // input slots read as quantized activations
	// Weighted nodes: the weight's input slot (1), the channel axis of
	// the weight, and the bias slot (2) or -1.
	axis int
	bias int
	// out is the tensor quantized after the node: its output, or the
	// output of the Relu that alone reads it.
	out string
	// needQ says the node's output must be quantized for ONNX Runtime to
	// run it as an integer kernel (QLinearConv needs it; QGemm and
	// MatMulIntegerToFloat write float).
	needQ bool
}

// tensorPlan is one activation tensor that gets a QuantizeLinear.
type tensorPlan struct {
	name   string
	share  string // take the parameters of this tensor ("" for its own)
	nonneg bool   // a Relu's output: its range starts at 0
	scale  float32
	zero   int32
}

// plan is the quantization of a graph, before calibration.
type plan struct {
	nodes   []*nodePlan
	tensors map[string]*tensorPlan
	order   []string // tensors in the order they were marked
	kept    []string // nodes kept in float by a pattern
	folded  map[string]string
}

// passOps move data without computing on it: ONNX Runtime runs them on
// 8-bit tensors when a DequantizeLinear/QuantizeLinear pair with equal
// parameters surrounds them.
var passOps = map[string]bool{"Flatten": true, "Reshape": true, "Transpose": true, "Squeeze": true, "Unsqueeze": true, "Identity": true}

// classify returns how n is quantized, or nil when it stays float.
func (g *graph) classify(n *onnxpb.NodeProto) *nodePlan {
	p := &nodePlan{n: n, bias: -1, out: firstOutput(n)}
	isConst := func(slot int) bool {
		if slot >= len(n.Input) {
			return false
		}
		_, ok := g.inits[n.Input[slot]]
		return ok
	}
	act := func(slot int) bool {
		return slot < len(n.Input) && n.Input[slot] != "" && !isConst(slot) && g.floatTensor(n.Input[slot])
	}
	for _, o := range n.Output[min(1, len(n.Output)):] {
		if o != "" {
			return nil // MaxPool's indices, BatchNormalization's training outputs
		}
	}
	switch op := n.GetOpType(); op {
	case "Conv":
		w, _ := g.floatInit(safeInput(n, 1))
		if !act(0) || w == nil || len(w.GetDims()) < 3 {
			return nil
		}
		p.kind, p.acts, p.axis, p.needQ = kindWeighted, []int{0}, 0, true
		if len(n.Input) > 2 && n.Input[2] != "" {
			if b, _ := g.floatInit(n.Input[2]); b == nil || len(b.GetDims()) != 1 {
				return nil
			}
			p.bias = 2
		}
	case "Gemm":
		w, _ := g.floatInit(safeInput(n, 1))
		if !act(0) || w == nil || len(w.GetDims()) != 2 || attrInt(n, "transA", 0) != 0 || attrFloat(n, "alpha", 1) != 1 {
			return nil
		}
		p.kind, p.acts = kindWeighted, []int{0}
		p.axis = 1
		if attrInt(n, "transB", 0) != 0 {
			p.axis = 0
		}
		if len(n.Input) > 2 && n.Input[2] != "" {
			b, _ := g.floatInit(n.Input[2])
			if b == nil || len(b.GetDims()) != 1 || b.GetDims()[0] != w.GetDims()[p.axis] || attrFloat(n, "beta", 1) != 1 {
				return nil
			}
			p.bias = 2
		}
	case "MatMul":
		switch w, _ := g.floatInit(safeInput(n, 1)); {
		case act(0) && w != nil && len(w.GetDims()) == 2:
			p.kind, p.acts, p.axis = kindWeighted, []int{0}, 1
		case act(0) && act(1):
			p.kind, p.acts = kindMatMul, []int{0, 1}
		default:
			return nil
		}
	case "Add", "Mul":
		if len(n.Input) != 2 || len(n.Output) != 1 || !act(0) || !act(1) {
			return nil
		}
		p.kind, p.acts, p.needQ = kindBinary, []int{0, 1}, true
	case "AveragePool", "GlobalAveragePool":
		if !act(0) {
			return nil
		}
		p.kind, p.acts, p.needQ = kindPool, []int{0}, true
	case "MaxPool":
		if !act(0) {
			return nil
		}
		p.kind, p.acts, p.needQ = kindMaxPool, []int{0}, true
	case "Concat":
		for i := range n.Input {
			if !act(i) {
				return nil
			}
			p.acts = append(p.acts, i)
		}
		p.kind, p.needQ = kindConcat, true
	default:
		if !passOps[op] || !act(0) {
			return nil
		}
		p.kind = kindPass
	}
	// A Relu that alone reads the output is part of the node: ONNX
	// Runtime drops it when the QuantizeLinear after it starts at zero.
	if p.kind == kindWeighted || p.kind == kindBinary {
		out := p.out
		if us := g.uses[out]; len(us) == 1 && !g.outputs[out] && us[0].n.GetOpType() == "Relu" {
			p.out = firstOutput(us[0].n)
		}
	}
	return p
}

func safeInput(n *onnxpb.NodeProto, i int) string {
	if i < len(n.Input) {
		return n.Input[i]
	}
	return ""
}

func firstOutput(n *onnxpb.NodeProto) string {
	if len(n.Output) == 0 {
		return ""
	}
	return n.Output[0]
}

// floatTensor reports whether name is (as far as the graph says) a
// float tensor: a float graph input, or the output of a node that does
// not produce integers.
func (g *graph) floatTensor(name string) bool {
	if g.inputs[name] {
		for _, v := range g.g.Input {
			if v.GetName() == name {
				return v.GetType().GetTensorType().GetElemType() == typeFloat
			}
		}
	}
	p := g.producer[name]
	if p == nil {
		return false
	}
	switch p.GetOpType() {
	case "Shape", "Size", "ArgMax", "ArgMin", "Cast", "Constant", "ConstantOfShape", "Equal", "Less", "Greater", "Not", "And", "Or", "NonZero", "TopK", "Range":
		return false
	}
	return true
}

// keepMatcher decides which nodes stay float from module-name patterns.
type keepMatcher struct {
	patterns []string
	hits     []bool
}

func newKeepMatcher(patterns []string) (*keepMatcher, error) {
	k := &keepMatcher{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := sdk.MatchPattern(p, "x"); err != nil {
			return nil, fmt.Errorf("quant: keep fp32: %w", err)
		}
		k.patterns = append(k.patterns, p)
	}
	k.hits = make([]bool, len(k.patterns))
	return k, nil
}

// names lists what a node answers to: its module's path and every
// enclosing module's; a functional op also answers as a child of the
// module running it (PATH. matches "PATH.*"); a Conv also answers to
// the batch norm folded into it.
func names(n *onnxpb.NodeProto, folded map[string]string) []string {
	path, functional := module(n.GetName())
	var out []string
	if path != "" {
		out = append(out, path)
		if functional {
			out = append(out, path+".")
		}
	}
	for i := strings.LastIndex(path, "."); i > 0; i = strings.LastIndex(path[:i], ".") {
		out = append(out, path[:i])
	}
	if bn, ok := folded[n.GetName()]; ok {
		p, _ := module(bn)
		out = append(out, p)
	}
	return out
}

// keep reports whether a pattern keeps node n in float.
func (k *keepMatcher) keep(n *onnxpb.NodeProto, folded map[string]string) bool {
	kept := false
	for _, name := range names(n, folded) {
		for i, p := range k.patterns {
			if ok, _ := sdk.MatchPattern(p, name); ok {
				k.hits[i] = true
				kept = true
			}
		}
	}
	return kept
}

// unmatched returns an error naming the patterns that kept no node.
func (k *keepMatcher) unmatched(g *graph, folded map[string]string) error {
	var cands []string
	seen := map[string]bool{}
	for _, n := range g.g.Node {
		for _, name := range names(n, folded) {
			if !seen[name] && !strings.HasSuffix(name, ".") {
				seen[name] = true
				cands = append(cands, name)
			}
		}
	}
	for i, p := range k.patterns {
		if !k.hits[i] {
			msg := fmt.Sprintf("keep fp32 pattern %q matches no module of the graph", p)
			if s := sdk.Suggest(p, cands, 3); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, ", ") + "?"
			}
			return fmt.Errorf("quant: %w: %s", sdk.ErrNoMatch, msg)
		}
	}
	return nil
}

// makePlan decides which nodes run quantized and which tensors get
// QuantizeLinear/DequantizeLinear pairs.
func (g *graph) makePlan(keepPatterns []string, folded map[string]string) (*plan, error) {
	k, err := newKeepMatcher(keepPatterns)
	if err != nil {
		return nil, err
	}
	pl := &plan{tensors: map[string]*tensorPlan{}, folded: folded}
	// A kept node's output, and a Relu's or Clip's right after it, stays
	// float: ONNX Runtime quantizes a float Conv or Gemm between a
	// DequantizeLinear and a QuantizeLinear itself (per tensor), and
	// fuses any node so placed.
	float := map[string]bool{}
	for _, n := range g.g.Node {
		if k.keep(n, folded) {
			pl.kept = append(pl.kept, n.GetName())
			for _, o := range n.Output {
				float[o] = true
			}
			continue
		}
		if op := n.GetOpType(); (op == "Relu" || op == "Clip") && float[safeInput(n, 0)] {
			float[firstOutput(n)] = true
		}
		if p := g.classify(n); p != nil {
			pl.nodes = append(pl.nodes, p)
		}
	}
	if err := k.unmatched(g, folded); err != nil {
		return nil, err
	}
	mark := func(name, share string) bool {
		if _, ok := pl.tensors[name]; ok || name == "" || float[name] {
			return false
		}
		t := &tensorPlan{name: name, share: share}
		if p := g.producer[name]; p != nil && p.GetOpType() == "Relu" {
			t.nonneg = true
		}
		pl.tensors[name] = t
		pl.order = append(pl.order, name)
		return true
	}
	// share marks out with in's parameters, also when a consumer marked
	// it first.
	share := func(out, in string) bool {
		if _, ok := pl.tensors[in]; !ok {
			return false // in stays float
		}
		if t, ok := pl.tensors[out]; ok {
			if t.share != "" {
				return false
			}
			t.share = in
			return true
		}
		return mark(out, in)
	}
	// Consumers mark their inputs; a data-movement node joins when its
	// input is quantized anyway and a node reads its output, so that
	// what follows it reads 8-bit data.
	for changed := true; changed; {
		changed = false
		for _, p := range pl.nodes {
			switch p.kind {
			case kindPass:
				in := p.n.Input[0]
				if _, ok := pl.tensors[in]; ok && len(g.uses[p.out]) > 0 {
					changed = share(p.out, in) || changed
				}
				continue
			case kindMaxPool:
				changed = mark(p.n.Input[0], "") || changed
				changed = share(p.out, p.n.Input[0]) || changed
				continue
			}
			for _, s := range p.acts {
				changed = mark(p.n.Input[s], "") || changed
			}
			if p.needQ {
				changed = mark(p.out, "") || changed
			}
		}
	}
	// A data-movement node whose input was not quantized stays float.
	pl.nodes = slices.DeleteFunc(pl.nodes, func(p *nodePlan) bool {
		_, ok := pl.tensors[p.out]
		return p.kind == kindPass && !ok
	})
	return pl, nil
}

// root returns the tensor whose parameters t uses.
func (pl *plan) root(t *tensorPlan) *tensorPlan {
	for t.share != "" {
		t = pl.tensors[t.share]
	}
	return t
}

// calibrated lists the tensors that need statistics: those with their own
// parameters, in marking order.
func (pl *plan) calibrated() []string {
	var out []string
	for _, name := range pl.order {
		if pl.tensors[name].share == "" {
			out = append(out, name)
		}
	}
	return out
}

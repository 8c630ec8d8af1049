package onnx

import (
	"regexp"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/internal/onnxpb"
)

// layerRef is one selectable layer: a module path or a raw value name,
// and the graph value that holds its output.
type layerRef struct {
	name   string
	kind   string // op type of the node producing value, or "Output"
	value  string
	params int64 // elements of the float initializers the module's nodes read
}

var callSuffix = regexp.MustCompile(`^(.+)_([0-9]+)$`)

// scopes returns the module scope components of a node name written by
// torch.onnx.export ("/layer3/layer3.1/relu/Relu" -> layer3, layer3.1,
// relu), or nil for a name without scopes.
func scopes(name string) []string {
	if !strings.HasPrefix(name, "/") {
		return nil
	}
	parts := strings.Split(name[1:], "/")
	if len(parts) < 2 {
		return nil
	}
	return parts[:len(parts)-1]
}

// modulePaths maps a node's scope components to PyTorch module paths, one
// per nesting level: a component that already carries its parent's path
// ("layer3.1" under "layer3") is the full path; others ("relu") are
// appended to the parent's. A component "relu_1" names the second call of
// "relu" when "relu" is a sibling scope.
func modulePaths(comps []string, siblings map[string]map[string]bool) []string {
	out := make([]string, 0, len(comps))
	parent := ""
	for _, c := range comps {
		if m := callSuffix.FindStringSubmatch(c); m != nil && siblings[parent][m[1]] {
			c = m[1]
		}
		full := c
		if parent != "" && !strings.HasPrefix(c, parent+".") {
			full = parent + "." + c
		}
		out = append(out, full)
		parent = full
	}
	return out
}

// mapLayers lists a graph's layers: every module path in the order its
// first node runs, then the graph outputs that are not module paths.
func mapLayers(g *onnxpb.GraphProto) []layerRef {
	// Sibling scope names per parent path, to recognise repeated calls.
	siblings := map[string]map[string]bool{}
	for _, n := range g.GetNode() {
		parent := ""
		for _, c := range scopes(n.GetName()) {
			if siblings[parent] == nil {
				siblings[parent] = map[string]bool{}
			}
			siblings[parent][c] = true
			// The parent path for the next level uses the raw spelling;
			// modulePaths resolves it the same way.
			full := c
			if parent != "" && !strings.HasPrefix(c, parent+".") {
				full = parent + "." + c
			}
			parent = full
		}
	}
	inits := map[string]bool{}
	sizes := map[string]int64{} // float initializers: the parameters
	var total int64
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		if t.GetDataType() == int32(onnxpb.TensorProto_FLOAT) && len(t.GetDims()) > 0 {
			n := int64(1)
			for _, d := range t.GetDims() {
				n *= d
			}
			sizes[t.GetName()] = n
			total += n
		}
	}
	// torch.onnx.export keeps one copy of equal initializers and feeds the
	// others' readers through Identity nodes: read through them.
	alias := map[string]string{}
	for changed := true; changed; {
		changed = false
		for _, n := range g.GetNode() {
			if n.GetOpType() != "Identity" || len(n.GetInput()) != 1 || len(n.GetOutput()) != 1 {
				continue
			}
			src := n.GetInput()[0]
			if a, ok := alias[src]; ok {
				src = a
			}
			if _, ok := sizes[src]; ok && alias[n.GetOutput()[0]] != src {
				alias[n.GetOutput()[0]] = src
				changed = true
			}
		}
	}
	// reads holds, per module path, the parameters its nodes read, each
	// once: a module's count includes its children's, as in PyTorch.
	reads := map[string]map[string]bool{}
	last := map[string]*onnxpb.NodeProto{}
	var order []string
	for _, n := range g.GetNode() {
		if len(n.GetOutput()) == 0 {
			continue
		}
		paths := modulePaths(scopes(n.GetName()), siblings)
		for _, p := range paths {
			for _, in := range n.GetInput() {
				if a, ok := alias[in]; ok {
					// Under its own name: two of a module's parameters
					// that export merged still count twice.
					sizes[in] = sizes[a]
				}
				if _, ok := sizes[in]; ok {
					if reads[p] == nil {
						reads[p] = map[string]bool{}
					}
					reads[p][in] = true
				}
			}
		}
		if folded(n, inits) && len(paths) > 0 {
			// The node computes its module followed by a batch norm that
			// export folded into it: its output is not the module's own,
			// but it is still the output of the enclosing modules.
			delete(last, paths[len(paths)-1])
			order = slices.DeleteFunc(order, func(p string) bool { return p == paths[len(paths)-1] })
			paths = paths[:len(paths)-1]
		}
		for _, p := range paths {
			if _, ok := last[p]; !ok {
				order = append(order, p)
			}
			last[p] = n
		}
	}
	outputs := map[string]bool{}
	for _, o := range g.GetOutput() {
		outputs[o.GetName()] = true
	}
	var refs []layerRef
	for _, p := range order {
		n := last[p]
		if n.GetOpType() == "Constant" || outputs[p] {
			continue
		}
		var params int64
		for in := range reads[p] {
			params += sizes[in]
		}
		refs = append(refs, layerRef{name: p, kind: n.GetOpType(), value: n.GetOutput()[0], params: params})
	}
	for _, o := range g.GetOutput() {
		// An output named as a module (bridge export's extra outputs)
		// counts that module's parameters; another is the whole model's.
		params := total
		if r, ok := reads[o.GetName()]; ok {
			params = 0
			for in := range r {
				params += sizes[in]
			}
		}
		refs = append(refs, layerRef{name: o.GetName(), kind: "Output", value: o.GetName(), params: params})
	}
	return refs
}

// folded reports whether n is a convolution whose weight export rewrote
// (an unnamed "onnx::" initializer), which torch.onnx.export does when it
// folds the following BatchNorm into it.
func folded(n *onnxpb.NodeProto, inits map[string]bool) bool {
	switch n.GetOpType() {
	case "Conv", "ConvTranspose":
	default:
		return false
	}
	in := n.GetInput()
	return len(in) > 1 && inits[in[1]] && strings.HasPrefix(in[1], "onnx::")
}

// valueType guesses the element type of a node output that carries no
// type in the file: ints for shape-like ops, the target of a Cast, the
// tensor of a Constant, float otherwise.
func valueType(g *onnxpb.GraphProto, value string) int32 {
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetValueInfo()...), g.GetOutput()...), g.GetInput()...) {
		if vi.GetName() == value {
			if t := vi.GetType().GetTensorType(); t != nil && t.GetElemType() != 0 {
				return t.GetElemType()
			}
		}
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != value {
				continue
			}
			switch n.GetOpType() {
			case "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression", "TopK":
				return int32(onnxpb.TensorProto_INT64)
			case "Cast":
				for _, a := range n.GetAttribute() {
					if a.GetName() == "to" {
						return int32(a.GetI())
					}
				}
			case "Constant":
				for _, a := range n.GetAttribute() {
					if a.GetName() == "value" && a.GetT() != nil {
						return a.GetT().GetDataType()
					}
				}
			case "Equal", "Less", "Greater", "And", "Or", "Not", "IsNaN", "IsInf":
				return int32(onnxpb.TensorProto_BOOL)
			}
		}
	}
	return int32(onnxpb.TensorProto_FLOAT)
}

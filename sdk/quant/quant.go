package quant

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"google.golang.org/protobuf/proto"
)

// Activation is the 8-bit type of quantized activations.
type Activation string

// Activation types. ONNX Runtime's CPU kernels on x86 run uint8
// activations with int8 weights (U8S8); int8 activations fuse into
// integer kernels only on ARM, and elsewhere stay float between
// QuantizeLinear and DequantizeLinear.
const (
	Uint8 Activation = "uint8"
	Int8  Activation = "int8"
)

// DefaultPercentile is the share of values Percentile calibration
// covers, in percent.
const DefaultPercentile = 99.999

// Options configures Prepare. The zero value is min-max calibration,
// uint8 activations and 7-bit int8 weights.
type Options struct {
	// Method turns observed values into ranges (default MinMax).
	Method Method
	// Percentile is the share of values the Percentile method covers, in
	// percent (default DefaultPercentile); it must be in (50, 100].
	Percentile float64
	// KeepFP32 lists module-name patterns (sdk.MatchPattern) of nodes
	// that stay float, e.g. "fc" or "layer4.2.*". A node answers to its
	// module and every module enclosing it; a functional op (a residual
	// add) is a child of the module whose forward runs it; a Conv also
	// answers to the batch norm folded into it. A pattern matching no
	// node is an error wrapping sdk.ErrNoMatch.
	KeepFP32 []string
	// Activations is the activation type (default Uint8).
	Activations Activation
	// FullRangeWeights quantizes weights over [-127, 127] instead of
	// [-64, 64]. x86 CPUs without VNNI (AVX2, most AVX-512) multiply
	// uint8 activations by int8 weights in pairs summed into int16,
	// which saturates when both are large: the default 7-bit weights
	// cannot saturate. Set it only for CPUs with VNNI, or ARM.
	FullRangeWeights bool
	// Session holds options for the calibration sessions (threads).
	Session []ort.Option
}

// Quantizer turns one float ONNX model into a QDQ model: Prepare, then
// Calibrate, then Model. It is not safe for concurrent use.
type Quantizer struct {
	opts   Options
	float  []byte // the model with batch norms folded
	plan   *plan
	folded map[string]string
	input  string
	stats  map[string]*stats
	images int64
	counts Summary
}

// Prepare folds the model's batch norms into its convolutions and plans
// its quantization: which nodes run on 8-bit integers and which tensors
// get QuantizeLinear/DequantizeLinear pairs. The model's graph outputs
// (the requested layers) stay float. The model must have one input.
func Prepare(model []byte, o Options) (*Quantizer, error) {
	if o.Method == "" {
		o.Method = MinMax
	}
	if !slices.Contains(Methods, o.Method) {
		return nil, fmt.Errorf("quant: %w: calibration method %q: use minmax, percentile or entropy", sdk.ErrBadOption, o.Method)
	}
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	if !(o.Percentile > 50 && o.Percentile <= 100) {
		return nil, fmt.Errorf("quant: %w: percentile %g: give a share in percent above 50 and at most 100, e.g. 99.99", sdk.ErrBadOption, o.Percentile)
	}
	switch o.Activations {
	case "":
		o.Activations = Uint8
	case Uint8, Int8:
	default:
		return nil, fmt.Errorf("quant: %w: activation type %q: use uint8 or int8", sdk.ErrBadOption, o.Activations)
	}
	g, err := parse(model)
	if err != nil {
		return nil, err
	}
	var inputs []string
	for _, v := range g.g.Input {
		if g.inputs[v.GetName()] {
			inputs = append(inputs, v.GetName())
		}
	}
	if len(inputs) != 1 {
		return nil, fmt.Errorf("quant: %w: the model has %d inputs (%v); quantization calibrates models with one", sdk.ErrUnsupported, len(inputs), inputs)
	}
	q := &Quantizer{opts: o, input: inputs[0]}
	q.folded = g.foldBatchNorms()
	if q.float, err = g.marshal(); err != nil {
		return nil, err
	}
	if q.plan, err = g.makePlan(o.KeepFP32, q.folded); err != nil {
		return nil, err
	}
	q.counts = summarize(g, q.plan)
	return q, nil
}

// Float returns the float model with batch norms folded: the model the
// quantized one approximates.
func (q *Quantizer) Float() []byte { return q.float }

// Input returns the name of the model's input.
func (q *Quantizer) Input() string { return q.input }

// Calibrate runs the float model over the calibration batches (each a
// tensor of the model's input, with the batch first) and records the
// range of every tensor to quantize: one pass for MinMax, two for
// Percentile and Entropy (ranges, then histograms). Calling it again
// replaces what an earlier call saw.
func (q *Quantizer) Calibrate(ctx context.Context, batches []*sdk.Tensor) error {
	if len(batches) == 0 {
		return fmt.Errorf("quant: %w: no calibration inputs: give at least one image", sdk.ErrBadInput)
	}
	names := q.plan.calibrated()
	model, err := withOutputs(q.float, names)
	if err != nil {
		return err
	}
	s, err := ort.NewSession(model, append(slices.Clone(q.opts.Session), ort.WithOutputSubsets(false))...)
	if err != nil {
		return fmt.Errorf("quant: calibration session: %w", err)
	}
	defer s.Close()
	st := map[string]*stats{}
	for _, n := range names {
		st[n] = newStats()
	}
	images := int64(0)
	pass := func(f func(*stats, []float32) error) error {
		for _, b := range batches {
			out, err := s.Run(ctx, map[string]*sdk.Tensor{q.input: b}, names)
			if err != nil {
				return fmt.Errorf("quant: calibrate: %w", err)
			}
			for _, n := range names {
				t := out[n]
				if t == nil || t.Float32 == nil {
					return fmt.Errorf("quant: calibrate: %w: tensor %s is not float", sdk.ErrUnsupported, n)
				}
				if err := f(st[n], t.Float32); err != nil {
					return fmt.Errorf("quant: calibrate: tensor %s: %w", n, err)
				}
			}
		}
		return nil
	}
	if err := pass(func(s *stats, v []float32) error { return s.observe(v) }); err != nil {
		return err
	}
	for _, b := range batches {
		if len(b.Shape) > 0 {
			images += b.Shape[0]
		}
	}
	if q.opts.Method != MinMax {
		for _, s := range st {
			s.startHist()
		}
		if err := pass(func(s *stats, v []float32) error { s.count(v); return nil }); err != nil {
			return err
		}
	}
	q.stats, q.images = st, images
	return nil
}

// Images returns the number of images the last Calibrate saw.
func (q *Quantizer) Images() int64 { return q.images }

// Model returns the quantized model: the float model in QDQ form with
// the calibrated parameters, for ONNX Runtime to fuse into integer
// kernels. Calibrate must have run.
func (q *Quantizer) Model() ([]byte, error) {
	if q.stats == nil {
		return nil, errors.New("quant: Model before Calibrate: calibrate the quantizer first")
	}
	g, err := parse(q.float)
	if err != nil {
		return nil, err
	}
	// The plan was made on an equal graph: make it again on this one, so
	// that its node pointers are this graph's.
	pl, err := g.makePlan(q.opts.KeepFP32, q.folded)
	if err != nil {
		return nil, err
	}
	at := actUint8
	if q.opts.Activations == Int8 {
		at = actInt8
	}
	for _, name := range pl.calibrated() {
		t := pl.tensors[name]
		s := q.stats[name]
		if s == nil {
			return nil, fmt.Errorf("quant: tensor %s was not calibrated (a bug)", name)
		}
		lo, hi := s.rangeFor(q.opts.Method, q.opts.Percentile, t.nonneg)
		t.scale, t.zero = params(lo, hi, at.qmin, at.qmax)
	}
	wmax := int32(64)
	if q.opts.FullRangeWeights {
		wmax = 127
	}
	if err := g.qdq(pl, at, wmax); err != nil {
		return nil, err
	}
	g.m.ProducerName = "gozoo quantize"
	return g.marshal()
}

// Summary says what a quantization does to a graph.
type Summary struct {
	// Folded is the number of batch norms folded into convolutions.
	Folded int `json:"folded_batch_norms"`
	// Quantized counts, per operator type, the nodes that read 8-bit
	// inputs (and, for Conv, Gemm and MatMul, 8-bit weights).
	Quantized map[string]int `json:"quantized"`
	// Float counts, per operator type, the nodes left float (Relus that
	// a quantized node absorbs are not counted).
	Float map[string]int `json:"float"`
	// Kept names the nodes a KeepFP32 pattern kept float.
	Kept []string `json:"kept_fp32,omitempty"`
	// Tensors is the number of activation tensors quantized.
	Tensors int `json:"tensors"`
}

// Summary returns what the quantization does to the graph.
func (q *Quantizer) Summary() Summary { return q.counts }

func summarize(g *graph, pl *plan) Summary {
	s := Summary{Folded: len(pl.folded), Quantized: map[string]int{}, Float: map[string]int{},
		Kept: slices.Clone(pl.kept), Tensors: len(pl.tensors)}
	quantized := map[*onnxpb.NodeProto]bool{}
	absorbed := map[string]bool{}
	for _, p := range pl.nodes {
		quantized[p.n] = true
		if p.out != firstOutput(p.n) {
			absorbed[p.out] = true
		}
	}
	for _, n := range g.g.Node {
		switch {
		case quantized[n]:
			s.Quantized[n.GetOpType()]++
		case n.GetOpType() == "Relu" && absorbed[firstOutput(n)]:
		case n.GetOpType() == "Constant":
		default:
			s.Float[n.GetOpType()]++
		}
	}
	return s
}

// withOutputs returns model with the named tensors added as float graph
// outputs.
func withOutputs(model []byte, names []string) ([]byte, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(model, mp); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, o := range mp.Graph.Output {
		have[o.GetName()] = true
	}
	for _, n := range names {
		if have[n] {
			continue
		}
		have[n] = true
		mp.Graph.Output = append(mp.Graph.Output, &onnxpb.ValueInfoProto{Name: n, Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: typeFloat}}}})
	}
	return proto.Marshal(mp)
}

// RuntimeOps counts the nodes of each operator type in the graph ONNX
// Runtime runs for model after its optimizations, such as the fusion of
// DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv. A float
// Conv, Gemm or MatMul left in a quantized model's count is one that runs
// in float32. dir is a folder for the optimized model file, removed
// afterwards.
func RuntimeOps(model []byte, dir string, opts ...ort.Option) (map[string]int, error) {
	path := dir + "/optimized.onnx"
	s, err := ort.NewSession(model, append(slices.Clone(opts), ort.WithOptimizedModelPath(path), ort.WithOutputSubsets(false))...)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	data, err := readAndRemove(path)
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("quant: ONNX Runtime's optimized model: %w", err)
	}
	out := map[string]int{}
	for _, n := range mp.GetGraph().GetNode() {
		out[n.GetOpType()]++
	}
	return out, nil
}

// FormatOps writes op counts as "QLinearConv 20, QGemm 1, ...", most
// frequent first.
func FormatOps(ops map[string]int) string {
	keys := slices.Collect(maps.Keys(ops))
	sort.Slice(keys, func(i, j int) bool {
		if ops[keys[i]] != ops[keys[j]] {
			return ops[keys[i]] > ops[keys[j]]
		}
		return keys[i] < keys[j]
	})
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, ops[k])
	}
	return s
}

// SetOutputs returns model with exactly the named tensors as its graph
// outputs, in order: graph outputs or node outputs of the file (an
// unknown name is a *sdk.LayerError naming close ones). Quantize an
// .onnx file with the layers wanted as its outputs: every other output
// stays a float tensor that ONNX Runtime must compute, and a requested
// layer inside a fused group keeps the group from fusing.
func SetOutputs(model []byte, names []string) ([]byte, error) {
	g, err := parse(model)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("quant: %w: no outputs named", sdk.ErrBadInput)
	}
	known := map[string]*onnxpb.ValueInfoProto{}
	var cands []string
	for _, o := range g.g.Output {
		known[o.GetName()] = o
		cands = append(cands, o.GetName())
	}
	for _, n := range g.g.Node {
		for _, o := range n.Output {
			if _, ok := known[o]; !ok && o != "" {
				known[o] = nil
				cands = append(cands, o)
			}
		}
	}
	var outs []*onnxpb.ValueInfoProto
	for _, name := range names {
		v, ok := known[name]
		if !ok {
			return nil, &sdk.LayerError{Name: name, Suggestions: sdk.Suggest(name, cands, 3)}
		}
		if v == nil {
			v = &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{
				Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: typeFloat}}}}
		}
		outs = append(outs, v)
	}
	g.g.Output = outs
	return g.marshal()
}

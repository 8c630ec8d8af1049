package backbone

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"google.golang.org/protobuf/proto"
)

var _ sdk.Exporter = (*model)(nil)

// Export writes the model as an ONNX file (req.Format sdk.FormatONNX,
// opset nn.Opset): the graph the model runs on ONNX Runtime, with the
// loaded weights inside and req.Layers (default: the net's default
// layer) as its outputs under their module names, so that the file
// serves as a backbone of its own (plugin onnx) and can be transformed,
// e.g. quantized, as a whole.
//
// The graph is the one for the net's default input. Its free dimensions
// stay free when the graph is the same at another size (convolutional
// nets with a global pool); a net whose graph depends on the input size
// gets the default input's sizes fixed in the file, so that ONNX Runtime
// refuses other sizes instead of computing something else.
func (m *model) Export(ctx context.Context, req *sdk.ExportRequest) (*sdk.ExportResponse, error) {
	if req == nil || req.Path == "" {
		return nil, fmt.Errorf("%s: export: %w: no path", m.arch.Name, sdk.ErrBadInput)
	}
	if req.Format != sdk.FormatONNX {
		return nil, fmt.Errorf("%s: export as %q: %w: Go plugins export onnx (the weights are the checkpoint the model was loaded from)", m.arch.Name, req.Format, sdk.ErrUnsupported)
	}
	if req.Opset != 0 && req.Opset != nn.Opset {
		return nil, fmt.Errorf("%s: export at opset %d: %w: the graphs use opset %d", m.arch.Name, req.Opset, sdk.ErrUnsupported, nn.Opset)
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{m.net.DefaultLayer()}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	g := m.graph
	for _, l := range layers {
		if _, err := g.b.Layer(l); err != nil {
			return nil, err
		}
	}
	fixed, err := m.sizeDependent(layers)
	if err != nil {
		return nil, err
	}
	w := m.weights
	if w == nil {
		if w, err = m.src.weights(m.net); err != nil {
			return nil, err
		}
	}
	data, err := g.b.ONNX(w, layers)
	if err != nil {
		return nil, fmt.Errorf("%s: export: %w", m.arch.Name, err)
	}
	if fixed {
		if data, err = fixInputs(data, m.net.DefaultInput(), m.net.Input().BatchAxis); err != nil {
			return nil, fmt.Errorf("%s: export: %w", m.arch.Name, err)
		}
	}
	if err := writeAtomic(req.Path, data); err != nil {
		return nil, fmt.Errorf("%s: export: %w", m.arch.Name, err)
	}
	return &sdk.ExportResponse{Path: req.Path, Bytes: int64(len(data))}, nil
}

// sizeDependent reports whether the graph of layers differs between the
// default input and one half as large again in every free dimension (or
// cannot be built there); called with m.mu held.
func (m *model) sizeDependent(layers []string) (bool, error) {
	def := m.net.DefaultInput()
	in := m.net.Input()
	probe := slices.Clone(def)
	changed := false
	for i, d := range in.Shape {
		if d < 0 && i != in.BatchAxis && i < len(probe) && probe[i] > 0 {
			probe[i] += max(1, probe[i]/2)
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	outs := slices.Clone(layers)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	want, err := m.graph.key(outs)
	if err != nil {
		return false, err
	}
	b := m.net.Build(m.batchFree(probe))
	if b.Err() != nil {
		return true, nil
	}
	got, err := b.GraphKey(outs)
	if err != nil {
		return true, nil
	}
	return got != want, nil
}

// fixInputs gives the first input of an ONNX model the sizes of shape in
// every dimension but the batch.
func fixInputs(data []byte, shape []int64, batch int) ([]byte, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, err
	}
	in := mp.GetGraph().GetInput()
	if len(in) == 0 {
		return data, nil
	}
	dims := in[0].GetType().GetTensorType().GetShape().GetDim()
	for i, d := range dims {
		if i != batch && i < len(shape) && shape[i] > 0 {
			d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: shape[i]}
		}
	}
	return proto.Marshal(mp)
}

// writeAtomic writes data to path through a temporary file in the same
// folder, renamed over path when complete.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

package onnx

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// maxInlineBytes bounds a model with its external data inlined: protobuf
// messages (and ONNX Runtime's model bytes) stop at 2 GiB.
const maxInlineBytes = math.MaxInt32

// ExternalDataError is returned for an external-data reference the plugin
// refuses to follow. It wraps sdk.ErrWeights.
type ExternalDataError struct {
	Model    string // the .onnx file
	Tensor   string // the tensor whose data is external
	Location string // the location as written in the file
	Reason   string
}

func (e *ExternalDataError) Error() string {
	return fmt.Sprintf("onnx: %s: tensor %q: external data location %q %s: external data must be a regular file inside the model's folder",
		e.Model, e.Tensor, e.Location, e.Reason)
}

// Unwrap makes errors.Is(err, sdk.ErrWeights) hold.
func (e *ExternalDataError) Unwrap() error { return sdk.ErrWeights }

// externalData resolves the external data of one model file.
type externalData struct {
	model   string // the .onnx file, for messages
	dir     string // its folder, symlinks resolved
	files   map[string]*os.File
	total   int64
	inlined bool
}

// inlineExternal replaces every external-data reference in mp (initializers,
// sparse initializers, node attributes, nested graphs, functions, training
// graphs) with the bytes it names, so that ONNX Runtime, given the model's
// bytes, never opens a file itself. A location is followed only when it
// names a regular file inside the folder of the model file at path: no
// absolute path, no ".." component, no symbolic link that leads out of
// the folder. It reports whether anything was inlined.
func inlineExternal(mp *onnxpb.ModelProto, path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("onnx: %s: %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return false, fmt.Errorf("onnx: %s: %w", path, err)
	}
	x := &externalData{model: path, dir: dir, files: map[string]*os.File{}, total: int64(proto.Size(mp))}
	defer func() {
		for _, f := range x.files {
			f.Close()
		}
	}()
	if err := x.walkModel(mp); err != nil {
		return false, err
	}
	return x.inlined, nil
}

func (x *externalData) walkModel(mp *onnxpb.ModelProto) error {
	if err := x.graph(mp.GetGraph()); err != nil {
		return err
	}
	for _, f := range mp.GetFunctions() {
		if hasField(f.ProtoReflect().GetUnknown(), 11) {
			// attribute_proto (defaults of function attributes) is newer
			// than the ONNX this plugin reads; it may hold tensors.
			return fmt.Errorf("onnx: %s: function %q has attribute defaults (attribute_proto), which this plugin does not read: %w: export with ONNX IR 8 (opset <= 17)",
				x.model, f.GetName(), sdk.ErrUnsupported)
		}
		for _, n := range f.GetNode() {
			if err := x.node(n); err != nil {
				return err
			}
		}
	}
	for _, ti := range mp.GetTrainingInfo() {
		if err := x.graph(ti.GetInitialization()); err != nil {
			return err
		}
		if err := x.graph(ti.GetAlgorithm()); err != nil {
			return err
		}
	}
	return nil
}

func (x *externalData) graph(g *onnxpb.GraphProto) error {
	if g == nil {
		return nil
	}
	for _, t := range g.GetInitializer() {
		if err := x.tensor(t); err != nil {
			return err
		}
	}
	for _, s := range g.GetSparseInitializer() {
		if err := x.sparse(s); err != nil {
			return err
		}
	}
	for _, n := range g.GetNode() {
		if err := x.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (x *externalData) node(n *onnxpb.NodeProto) error {
	for _, a := range n.GetAttribute() {
		if err := x.tensor(a.GetT()); err != nil {
			return err
		}
		for _, t := range a.GetTensors() {
			if err := x.tensor(t); err != nil {
				return err
			}
		}
		if err := x.sparse(a.GetSparseTensor()); err != nil {
			return err
		}
		for _, s := range a.GetSparseTensors() {
			if err := x.sparse(s); err != nil {
				return err
			}
		}
		if err := x.graph(a.GetG()); err != nil {
			return err
		}
		for _, g := range a.GetGraphs() {
			if err := x.graph(g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (x *externalData) sparse(s *onnxpb.SparseTensorProto) error {
	if s == nil {
		return nil
	}
	if err := x.tensor(s.GetValues()); err != nil {
		return err
	}
	return x.tensor(s.GetIndices())
}

// tensor inlines t's external data, if it has any.
func (x *externalData) tensor(t *onnxpb.TensorProto) error {
	if t == nil || (t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL && len(t.GetExternalData()) == 0) {
		return nil
	}
	var loc string
	offset, length := int64(0), int64(-1)
	bad := func(location, reason string) error {
		return &ExternalDataError{Model: x.model, Tensor: t.GetName(), Location: location, Reason: reason}
	}
	for _, e := range t.GetExternalData() {
		switch e.GetKey() {
		case "location":
			loc = e.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(e.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return bad(loc, fmt.Sprintf("has %s %q, not a byte count", e.GetKey(), e.GetValue()))
			}
			if e.GetKey() == "offset" {
				offset = v
			} else {
				length = v
			}
		}
	}
	f, err := x.open(loc, bad)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("onnx: %s: external data %q: %w", x.model, loc, err)
	}
	if length < 0 {
		length = st.Size() - offset
	}
	if offset > st.Size() || length > st.Size()-offset {
		return bad(loc, fmt.Sprintf("is %d bytes; the tensor wants bytes [%d, %d): the data file is truncated or not this model's", st.Size(), offset, offset+length))
	}
	if x.total += length; x.total > maxInlineBytes {
		return fmt.Errorf("onnx: %s: %w: the model with its external data exceeds 2 GiB, more than this plugin loads", x.model, sdk.ErrUnsupported)
	}
	raw := make([]byte, length)
	if _, err := f.ReadAt(raw, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return fmt.Errorf("onnx: %s: read external data %q: %w", x.model, loc, err)
	}
	t.RawData = raw
	t.ExternalData = nil
	t.DataLocation = onnxpb.TensorProto_DEFAULT
	x.inlined = true
	return nil
}

// open returns the data file at loc, checked to be a regular file inside
// the model's folder.
func (x *externalData) open(loc string, bad func(location, reason string) error) (*os.File, error) {
	switch {
	case loc == "":
		return nil, bad(loc, "is missing")
	case filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`):
		return nil, bad(loc, "is an absolute path")
	case strings.ContainsRune(loc, 0):
		return nil, bad(loc, "holds a NUL byte")
	}
	for _, part := range strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return nil, bad(loc, `has a ".." component`)
		}
	}
	if !filepath.IsLocal(loc) {
		return nil, bad(loc, "is not a path inside the folder")
	}
	real, err := filepath.EvalSymlinks(filepath.Join(x.dir, loc))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, bad(loc, "names no file beside the model")
		}
		return nil, bad(loc, err.Error())
	}
	if rel, err := filepath.Rel(x.dir, real); err != nil || !filepath.IsLocal(rel) {
		return nil, bad(loc, fmt.Sprintf("is a symbolic link to %s, outside the model's folder", real))
	}
	if f := x.files[real]; f != nil {
		return f, nil
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, bad(loc, err.Error())
	}
	if !st.Mode().IsRegular() {
		return nil, bad(loc, fmt.Sprintf("is not a regular file (%s)", st.Mode().Type()))
	}
	// O_NONBLOCK: a FIFO swapped in after the check cannot block the open.
	f, err := os.OpenFile(real, os.O_RDONLY|syscallNonblock, 0)
	if err != nil {
		return nil, bad(loc, err.Error())
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, bad(loc, "is not a regular file")
	}
	x.files[real] = f
	return f, nil
}

// hasField reports whether the protobuf wire bytes b hold field num.
func hasField(b []byte, num protowire.Number) bool {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return true // malformed: treat as present, so it is refused
		}
		if n == num {
			return true
		}
		b = b[l:]
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return true
		}
		b = b[l:]
	}
	return false
}

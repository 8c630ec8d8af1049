package bridge

import (
	"fmt"
	"math"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// storageRef is a torch storage named by a pickle's persistent id. Its
// bytes are read on first use.
type storageRef struct {
	key   string
	dt    dtype
	numel int64
	raw   []byte
}

// tensorRef is a tensor view over a storage, as _rebuild_tensor_v2
// describes it.
type tensorRef struct {
	storage      *storageRef
	offset       int64
	size, stride []int64
}

// allowedGlobal returns the stand-in for an allow-listed global, or an
// *UnsafeGlobalError. It is the only way a pickle can name Python code.
func allowedGlobal(module, name string) (any, error) {
	ok := false
	switch module {
	case "collections":
		ok = name == "OrderedDict"
	case "torch._utils":
		switch name {
		case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state":
			ok = true
		}
	case "torch":
		_, ok = torchStorages[name]
	case "_codecs":
		// Protocol 2 pickles bytes as _codecs.encode(str, "latin1").
		ok = name == "encode"
	}
	if !ok {
		return nil, &UnsafeGlobalError{Module: module, Name: name}
	}
	return pyGlobal{module, name}, nil
}

// callGlobal applies an allow-listed global to its arguments.
func callGlobal(g pyGlobal, args pyTuple) (any, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s.%s called with %d arguments: %s", ErrCorrupt, g.module, g.name, len(args), why)
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		d := newDict()
		if len(args) == 0 {
			return d, nil
		}
		l, ok := args[0].(*pyList)
		if len(args) != 1 || !ok {
			return nil, bad("want a list of pairs")
		}
		for _, it := range l.items {
			p, ok := it.(pyTuple)
			if !ok || len(p) != 2 {
				return nil, bad("want a list of pairs")
			}
			if err := d.set(p[0], p[1]); err != nil {
				return nil, bad(err.Error())
			}
		}
		return d, nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		if len(args) < 4 {
			return nil, bad("want storage, offset, size, stride")
		}
		s, ok := args[0].(*storageRef)
		if !ok {
			return nil, bad("first argument is a " + pyType(args[0]) + ", not a storage")
		}
		off, ok := args[1].(int64)
		if !ok {
			return nil, bad("storage offset is not an int")
		}
		size, err1 := intTuple(args[2])
		stride, err2 := intTuple(args[3])
		if err1 != nil || err2 != nil {
			return nil, bad("size and stride must be tuples of ints")
		}
		return &tensorRef{storage: s, offset: off, size: size, stride: stride}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, bad("want the parameter's data")
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, bad("data is a " + pyType(args[0]) + ", not a tensor")
		}
		return args[0], nil
	case "_codecs.encode":
		s, ok := args[0].(string)
		if len(args) != 2 || !ok {
			return nil, bad("want a string and an encoding")
		}
		if enc, _ := args[1].(string); enc != "latin1" && enc != "latin-1" {
			return nil, fmt.Errorf("%w: _codecs.encode with encoding %v", ErrUnsupported, args[1])
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 255 {
				return nil, bad("non-latin1 character")
			}
			b = append(b, byte(r))
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: calling %s.%s is not supported", ErrUnsupported, g.module, g.name)
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("not a tuple")
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("not an int")
		}
		out[i] = n
	}
	return out, nil
}

// storageFromID checks a torch persistent id, ('storage', StorageClass,
// key, location, numel[, view_metadata]), and returns its storage, the
// same one for every id naming the same key.
func storageFromID(id any, storages map[string]*storageRef) (*storageRef, error) {
	t, ok := id.(pyTuple)
	if !ok || len(t) < 5 || t[0] != "storage" {
		return nil, fmt.Errorf("%w: persistent id %s is not a torch storage", ErrCorrupt, pyType(id))
	}
	g, ok := t[1].(pyGlobal)
	dt, known := torchStorages[g.name]
	if !ok || g.module != "torch" || !known {
		return nil, fmt.Errorf("%w: storage type %s", ErrUnsupported, pyType(t[1]))
	}
	key, ok1 := t[2].(string)
	numel, ok2 := t[4].(int64)
	if !ok1 || !ok2 || numel < 0 || numel > math.MaxInt64/8 {
		return nil, fmt.Errorf("%w: malformed storage id", ErrCorrupt)
	}
	if len(t) > 5 && t[5] != nil {
		return nil, fmt.Errorf("%w: storage views (pre-1.0 checkpoints): re-save it with a recent torch", ErrUnsupported)
	}
	if s, ok := storages[key]; ok {
		if s.dt != dt || s.numel != numel {
			return nil, fmt.Errorf("%w: storage %q declared twice with different types", ErrCorrupt, key)
		}
		return s, nil
	}
	s := &storageRef{key: key, dt: dt, numel: numel}
	storages[key] = s
	return s, nil
}

// maxElements bounds one tensor's element count (2^40, far beyond any
// real checkpoint) so hostile sizes cannot overflow index arithmetic.
const maxElements = 1 << 40

// maxBroadcast bounds views with more elements than their storage (such as
// tensor.expand): real checkpoints hold small ones, and the bound keeps a
// few bytes of pickle from asking for gigabytes.
const maxBroadcast = 1 << 24

// materialize gathers t's elements from its storage into a dense
// row-major sdk.Tensor, honouring size, stride and offset.
func (t *tensorRef) materialize() (*sdk.Tensor, error) {
	if len(t.size) != len(t.stride) {
		return nil, fmt.Errorf("%w: tensor has %d sizes but %d strides", ErrCorrupt, len(t.size), len(t.stride))
	}
	n := int64(1)
	for i, d := range t.size {
		if d < 0 || t.stride[i] < 0 {
			return nil, fmt.Errorf("%w: negative size or stride", ErrCorrupt)
		}
		if d != 0 && n > maxElements/d {
			return nil, fmt.Errorf("%w: tensor of shape %s is too large", ErrCorrupt, sdk.FormatShape(t.size))
		}
		n *= d
	}
	s := t.storage
	out := &sdk.Tensor{Shape: append([]int64{}, t.size...)}
	if n == 0 {
		if s.dt.isFloat() {
			out.Float32 = []float32{}
		} else {
			out.Int64 = []int64{}
		}
		return out, nil
	}
	if t.offset < 0 || t.offset >= s.numel {
		return nil, fmt.Errorf("%w: tensor offset %d is outside its storage of %d elements", ErrCorrupt, t.offset, s.numel)
	}
	last := t.offset
	for i, d := range t.size {
		// last stays below s.numel, so this cannot overflow.
		if st := t.stride[i]; st > 0 && d-1 > (s.numel-1-last)/st {
			return nil, fmt.Errorf("%w: tensor of shape %s and stride %v at offset %d reads past its storage of %d elements",
				ErrCorrupt, sdk.FormatShape(t.size), t.stride, t.offset, s.numel)
		}
		last += (d - 1) * t.stride[i]
	}
	if n > s.numel && n > maxBroadcast {
		return nil, fmt.Errorf("%w: a broadcast view of %d elements over a storage of %d: save tensor.contiguous() instead",
			ErrUnsupported, n, s.numel)
	}
	var idx []int64
	raw := s.raw
	if contiguous(t.size, t.stride) {
		raw = raw[t.offset*s.dt.size():]
	} else {
		idx = make([]int64, n)
		pos := make([]int64, len(t.size))
		at := t.offset
		for k := range idx {
			idx[k] = at
			for d := len(pos) - 1; d >= 0; d-- {
				pos[d]++
				at += t.stride[d]
				if pos[d] < t.size[d] {
					break
				}
				at -= pos[d] * t.stride[d]
				pos[d] = 0
			}
		}
	}
	if s.dt == dtF32 && idx == nil {
		if f, ok := aliasFloat32(raw, n); ok {
			out.Float32 = f // shares the storage, like a torch view
			return out, nil
		}
	}
	if s.dt.isFloat() {
		out.Float32 = decodeFloats(s.dt, raw, idx, n)
	} else {
		out.Int64 = decodeInts(s.dt, raw, idx, n)
	}
	return out, nil
}

// contiguous reports whether stride is the row-major stride of size
// (dimensions of size 1 may have any stride).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// stateDictOf finds the state_dict in an unpickled checkpoint: the object
// itself, or its "state_dict" or "model" entry.
func stateDictOf(v any) (*pyDict, error) {
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%w: the checkpoint holds a %s, not a state_dict: save model.state_dict()", ErrUnsupported, pyType(v))
	}
	if allTensors(d) {
		return d, nil
	}
	for _, k := range []string{"state_dict", "model"} {
		if inner, ok := d.get(k); ok {
			if id, ok := inner.(*pyDict); ok && allTensors(id) {
				return id, nil
			}
		}
	}
	var keys []string
	for _, k := range d.keys {
		keys = append(keys, fmt.Sprint(k))
	}
	if len(keys) > maxListed {
		keys = append(keys[:maxListed], "...")
	}
	return nil, fmt.Errorf("%w: the checkpoint is a dict with keys [%s] and no state_dict in it "+
		"(looked at the dict itself, \"state_dict\" and \"model\")", ErrUnsupported, strings.Join(keys, ", "))
}

func allTensors(d *pyDict) bool {
	for i, k := range d.keys {
		if _, ok := k.(string); !ok {
			return false
		}
		if _, ok := d.vals[i].(*tensorRef); !ok {
			return false
		}
	}
	return true
}

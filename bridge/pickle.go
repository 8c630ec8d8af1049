package bridge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// This file holds a restricted unpickler. It interprets the pickle opcodes
// as data only: GLOBAL and STACK_GLOBAL resolve names against an allow-list
// of Go stand-ins (allowedGlobal) and fail for every other name, so nothing
// a pickle names is ever looked up, imported or run.

// Values the unpickler produces. Python None is nil, bool is bool, int is
// int64 (or *big.Int when it does not fit), float is float64, str is
// string and bytes is []byte.
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict keeps insertion order, as Python dicts do.
	pyDict struct {
		keys  []any
		vals  []any
		index map[any]int // for comparable keys
	}
	// pyGlobal is an allow-listed global: a callable or a class.
	pyGlobal struct{ module, name string }
	pyMark   struct{}
)

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case nil, bool, int64, float64, string:
		if i, ok := d.index[k]; ok {
			d.vals[i] = v
			return nil
		}
		d.index[k] = len(d.keys)
	case pyTuple, *big.Int:
		// Hashable in Python but not comparable in Go: keep every entry.
	default:
		return fmt.Errorf("unhashable dict key of type %s", pyType(k))
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// unpickler interprets one pickle held in memory.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[int64]any
	// persistentLoad resolves BINPERSID ids (torch storages).
	persistentLoad func(id any) (any, error)
	// call applies an allow-listed global to its arguments (REDUCE).
	call func(g pyGlobal, args pyTuple) (any, error)
}

// maxPickleDepth bounds marks to keep hostile input from growing them
// without limit; real state_dict pickles nest a handful deep.
const maxPickleDepth = 10000

func (u *unpickler) errf(format string, args ...any) error {
	return fmt.Errorf("%w: pickle byte %d: %s", ErrCorrupt, u.pos, fmt.Sprintf(format, args...))
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf("truncated: need %d bytes, %d left", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) line() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:min(len(u.data), u.pos+4096)], '\n')
	if i < 0 {
		return "", u.errf("unterminated text line")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	floor := 0
	if len(u.marks) > 0 {
		floor = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= floor {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	floor := 0
	if len(u.marks) > 0 {
		floor = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= floor {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) sized(lenBytes int) ([]byte, error) {
	n, err := u.uint(lenBytes)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(u.data)-u.pos) {
		return nil, u.errf("truncated: string of %d bytes, %d left", n, len(u.data)-u.pos)
	}
	return u.take(int(n))
}

func (u *unpickler) global(module, name string) error {
	g, err := allowedGlobal(module, name)
	if err != nil {
		return err
	}
	u.push(g)
	return nil
}

func (u *unpickler) memoGet(i int64) error {
	v, ok := u.memo[i]
	if !ok {
		return u.errf("memo key %d not found", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) memoPut(i int64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

// load runs the pickle from u.pos to its STOP opcode and returns the result.
func (u *unpickler) load() (any, error) {
	u.stack, u.marks, u.memo = nil, nil, map[int64]any{}
	for {
		if u.pos >= len(u.data) {
			return nil, u.errf("truncated: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, err
		}
		if done {
			if len(u.stack) != 1 || len(u.marks) != 0 {
				return nil, u.errf("STOP with %d values on the stack", len(u.stack))
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case 0x80: // PROTO
		p, err := u.take(1)
		if err != nil {
			return false, err
		}
		if p[0] > 5 {
			return false, u.errf("unsupported pickle protocol %d", p[0])
		}
	case 0x95: // FRAME: frames are a buffering hint; the data is inline.
		if _, err := u.take(8); err != nil {
			return false, err
		}
	case '.': // STOP
		return true, nil
	case '(': // MARK
		if len(u.marks) >= maxPickleDepth {
			return false, u.errf("nesting deeper than %d", maxPickleDepth)
		}
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			_, err = u.popMark() // pops an empty MARK, as CPython does
			return false, err
		}
		_, err = u.pop()
	case '1': // POP_MARK
		_, err = u.popMark()
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J': // BININT
		v, err := u.uint(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(uint32(v))))
	case 'K': // BININT1
		v, err := u.uint(1)
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case 'M': // BININT2
		v, err := u.uint(2)
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		n := 1
		if op == 0x8b {
			n = 4
		}
		b, err := u.sized(n)
		if err != nil {
			return false, err
		}
		u.push(decodeLong(b))
	case 'I', 'L': // INT, LONG (text)
		s, err := u.line()
		if err != nil {
			return false, err
		}
		s = strings.TrimSuffix(s, "L")
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			v, ok := new(big.Int).SetString(s, 10)
			if !ok {
				return false, u.errf("bad integer %q", s)
			}
			if v.IsInt64() {
				u.push(v.Int64())
			} else {
				u.push(v)
			}
		}
	case 'G': // BINFLOAT (big-endian)
		b, err := u.take(8)
		if err != nil {
			return false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'F': // FLOAT (text)
		s, err := u.line()
		if err != nil {
			return false, err
		}
		f, perr := strconv.ParseFloat(s, 64)
		if perr != nil {
			return false, u.errf("bad float %q", s)
		}
		u.push(f)
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		n := map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8}[op]
		b, err := u.sized(n)
		if err != nil {
			return false, err
		}
		u.push(string(b))
	case 'T', 'U': // BINSTRING, SHORT_BINSTRING (Python 2 str)
		n := 4
		if op == 'U' {
			n = 1
		}
		b, err := u.sized(n)
		if err != nil {
			return false, err
		}
		u.push(string(b))
	case 'B', 'C', 0x8e: // BINBYTES, SHORT_BINBYTES, BINBYTES8
		n := map[byte]int{'B': 4, 'C': 1, 0x8e: 8}[op]
		b, err := u.sized(n)
		if err != nil {
			return false, err
		}
		u.push(append([]byte(nil), b...))
	case 'V': // UNICODE (raw-unicode-escape text)
		s, err := u.line()
		if err != nil {
			return false, err
		}
		u.push(s)
	case 'S': // STRING (quoted text)
		s, err := u.line()
		if err != nil {
			return false, err
		}
		q, qerr := strconv.Unquote(s)
		if qerr != nil {
			if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
				q = s[1 : len(s)-1]
			} else {
				return false, u.errf("bad quoted string %q", s)
			}
		}
		u.push(q)
	case ')':
		u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		t := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			if t[i], err = u.pop(); err != nil {
				return false, err
			}
		}
		u.push(t)
	case ']':
		u.push(&pyList{})
	case 'l':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case 'a': // APPEND
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		l, err := u.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, u.errf("APPEND to a %s", pyType(l))
		}
		pl.items = append(pl.items, v)
	case 'e': // APPENDS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, err := u.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, u.errf("APPENDS to a %s", pyType(l))
		}
		pl.items = append(pl.items, items...)
	case '}':
		u.push(newDict())
	case 'd':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := u.setItems(d, items); err != nil {
			return false, err
		}
		u.push(d)
	case 's': // SETITEM
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		k, err := u.pop()
		if err != nil {
			return false, err
		}
		d, err := u.topDict()
		if err != nil {
			return false, err
		}
		if err := d.set(k, v); err != nil {
			return false, u.errf("%v", err)
		}
	case 'u': // SETITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d, err := u.topDict()
		if err != nil {
			return false, err
		}
		if err := u.setItems(d, items); err != nil {
			return false, err
		}
	case 0x8f: // EMPTY_SET: kept as a list; sets hold no tensors in checkpoints.
		u.push(&pyList{})
	case 0x90: // ADDITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, err := u.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, u.errf("ADDITEMS to a %s", pyType(l))
		}
		pl.items = append(pl.items, items...)
	case 0x91: // FROZENSET
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case 'p': // PUT
		s, err := u.line()
		if err != nil {
			return false, err
		}
		i, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return false, u.errf("bad memo key %q", s)
		}
		return false, u.memoPut(i)
	case 'q', 'r': // BINPUT, LONG_BINPUT
		n := 1
		if op == 'r' {
			n = 4
		}
		i, err := u.uint(n)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(int64(i))
	case 0x94: // MEMOIZE
		return false, u.memoPut(int64(len(u.memo)))
	case 'g': // GET
		s, err := u.line()
		if err != nil {
			return false, err
		}
		i, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return false, u.errf("bad memo key %q", s)
		}
		return false, u.memoGet(i)
	case 'h', 'j': // BINGET, LONG_BINGET
		n := 1
		if op == 'j' {
			n = 4
		}
		i, err := u.uint(n)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(int64(i))
	case 'c': // GLOBAL
		module, err := u.line()
		if err != nil {
			return false, err
		}
		name, err := u.line()
		if err != nil {
			return false, err
		}
		return false, u.global(module, name)
	case 0x93: // STACK_GLOBAL
		name, err := u.pop()
		if err != nil {
			return false, err
		}
		module, err := u.pop()
		if err != nil {
			return false, err
		}
		ms, ok1 := module.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return false, u.errf("STACK_GLOBAL needs two strings")
		}
		return false, u.global(ms, ns)
	case 'Q': // BINPERSID
		id, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, u.errf("persistent id outside a torch checkpoint")
		}
		v, err := u.persistentLoad(id)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'R', 0x81: // REDUCE, NEWOBJ: both call an allow-listed global.
		a, err := u.pop()
		if err != nil {
			return false, err
		}
		f, err := u.pop()
		if err != nil {
			return false, err
		}
		args, ok := a.(pyTuple)
		if !ok {
			return false, u.errf("REDUCE arguments are a %s, not a tuple", pyType(a))
		}
		g, ok := f.(pyGlobal)
		if !ok {
			return false, u.errf("REDUCE of a %s, which is not callable", pyType(f))
		}
		v, err := u.call(g, args)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'b': // BUILD: attribute state on an object. Checkpoints set it only
		// on OrderedDicts (state_dict._metadata), which is not needed here.
		if _, err := u.pop(); err != nil {
			return false, err
		}
		if _, err := u.top(); err != nil {
			return false, err
		}
	default:
		// INST, OBJ, NEWOBJ_EX, EXT*, PERSID (text), NEXT_BUFFER and
		// READONLY_BUFFER never appear in torch state_dict pickles.
		return false, u.errf("unsupported pickle opcode 0x%02x", op)
	}
	return false, err
}

func (u *unpickler) topDict() (*pyDict, error) {
	v, err := u.top()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, u.errf("SETITEM on a %s", pyType(v))
	}
	return d, nil
}

func (u *unpickler) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return u.errf("%v", err)
		}
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// pyType names the Python type of v for error messages.
func pyType(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case *tensorRef:
		return "tensor"
	case *storageRef:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}

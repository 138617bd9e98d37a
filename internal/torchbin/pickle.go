package torchbin

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// The pickle machine below runs the opcodes of protocols 2 to 5 that
// torch.save emits for a state dict and nothing else: it builds values
// (numbers, strings, tuples, lists, dicts) and calls only the few globals
// of allowedGlobals, which it implements itself. It never imports or runs
// anything the pickle names.

// maxMemo bounds the memo indices and maxStack the stack depth, so that a
// hostile pickle cannot make the reader allocate without bound.
const (
	maxMemo  = 1 << 20
	maxStack = 1 << 20
)

type (
	tuple  []any
	list   struct{ items []any }
	global struct{ module, name string }
	dict   struct {
		keys []any
		vals map[any]any
	}
	storageRef struct {
		dtype string // the storage class name: FloatStorage, ...
		key   string
		numel int64
	}
	tensorRef struct {
		storage *storageRef
		offset  int64
		shape   []int64
		stride  []int64
	}
)

func newDict() *dict { return &dict{vals: map[any]any{}} }

func (d *dict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, nil:
	default:
		return fmt.Errorf("dictionary key of type %s", typeName(k))
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return nil
}

// storageDTypes maps torch's storage classes to the safetensors dtype of
// their elements.
var storageDTypes = map[string]string{
	"FloatStorage":    "F32",
	"DoubleStorage":   "F64",
	"HalfStorage":     "F16",
	"BFloat16Storage": "BF16",
	"LongStorage":     "I64",
	"IntStorage":      "I32",
	"ShortStorage":    "I16",
	"CharStorage":     "I8",
	"ByteStorage":     "U8",
	"BoolStorage":     "BOOL",
}

// allowedGlobal reports whether the pickle may name module.name.
func allowedGlobal(module, name string) bool {
	switch module + "." + name {
	case "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter":
		return true
	}
	_, ok := storageDTypes[name]
	return module == "torch" && ok
}

// RefusedError is the error for a pickle that names something the reader
// does not allow (a global other than tensors, storages and OrderedDict, or
// an opcode that builds arbitrary objects). Nothing it names is ever run.
type RefusedError struct {
	// What is the global ("os.system") or the opcode refused.
	What string
}

func (e *RefusedError) Error() string {
	return "refuses " + e.What + " (a state dict holds only tensors, storages and OrderedDict; nothing in the file is run)"
}

// machine is the state of one unpickling.
type machine struct {
	b     []byte
	pos   int
	stack []any
	// meta holds the stacks saved by MARK, as Python's unpickler does: the
	// opcodes after a MARK see a fresh stack, and the matching TUPLE,
	// LIST, APPENDS or SETITEMS takes it whole and restores the saved one.
	meta [][]any
	memo map[int64]any
}

func (m *machine) push(v any) error {
	if len(m.stack)+len(m.meta) >= maxStack {
		return fmt.Errorf("stack deeper than %d", maxStack)
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (any, error) {
	if len(m.stack) == 0 {
		return nil, fmt.Errorf("stack underflow at offset %d", m.pos)
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) == 0 {
		return nil, fmt.Errorf("stack underflow at offset %d", m.pos)
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops everything above the last MARK.
func (m *machine) popMark() ([]any, error) {
	if len(m.meta) == 0 {
		return nil, fmt.Errorf("no MARK before offset %d", m.pos)
	}
	items := m.stack
	m.stack = m.meta[len(m.meta)-1]
	m.meta = m.meta[:len(m.meta)-1]
	return items, nil
}

func (m *machine) read(n int) ([]byte, error) {
	if n < 0 || n > len(m.b)-m.pos {
		return nil, fmt.Errorf("truncated at offset %d (%d bytes wanted)", m.pos, n)
	}
	s := m.b[m.pos : m.pos+n]
	m.pos += n
	return s, nil
}

func (m *machine) line() (string, error) {
	i := strings.IndexByte(string(m.b[m.pos:]), '\n')
	if i < 0 {
		return "", fmt.Errorf("unterminated line at offset %d", m.pos)
	}
	s := string(m.b[m.pos : m.pos+i])
	m.pos += i + 1
	return s, nil
}

func (m *machine) uint(n int) (uint64, error) {
	s, err := m.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v, nil
}

// unpickle runs the pickle in b and returns the value STOP leaves.
func unpickle(b []byte) (any, error) {
	m := &machine{b: b, memo: map[int64]any{}}
	for {
		if m.pos >= len(m.b) {
			return nil, fmt.Errorf("pickle ends without STOP")
		}
		op := m.b[m.pos]
		m.pos++
		if op == '.' { // STOP
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
}

// step runs one opcode.
func (m *machine) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		v, err := m.uint(1)
		if err != nil {
			return err
		}
		if v < 2 || v > 5 {
			return fmt.Errorf("pickle protocol %d, expected 2 to 5", v)
		}
		return nil
	case 0x95: // FRAME: a length hint
		_, err := m.uint(8)
		return err
	case '(': // MARK
		if len(m.meta) >= maxStack {
			return fmt.Errorf("more than %d MARKs", maxStack)
		}
		m.meta = append(m.meta, m.stack)
		m.stack = nil
		return nil
	case ')': // EMPTY_TUPLE
		return m.push(tuple{})
	case ']': // EMPTY_LIST
		return m.push(&list{})
	case '}': // EMPTY_DICT
		return m.push(newDict())
	case 'N':
		return m.push(nil)
	case 0x88: // NEWTRUE
		return m.push(true)
	case 0x89: // NEWFALSE
		return m.push(false)
	case 'K': // BININT1
		v, err := m.uint(1)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case 'M': // BININT2
		v, err := m.uint(2)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case 'J': // BININT
		v, err := m.uint(4)
		if err != nil {
			return err
		}
		return m.push(int64(int32(uint32(v))))
	case 0x8a: // LONG1
		n, err := m.uint(1)
		if err != nil {
			return err
		}
		s, err := m.read(int(n))
		if err != nil {
			return err
		}
		return m.pushLong(s)
	case 'G': // BINFLOAT (big-endian)
		s, err := m.read(8)
		if err != nil {
			return err
		}
		return m.push(math.Float64frombits(binary.BigEndian.Uint64(s)))
	case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8
		width := map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8, 'T': 4, 'U': 1, 'B': 4, 'C': 1, 0x8e: 8}[op]
		n, err := m.uint(width)
		if err != nil {
			return err
		}
		if n > uint64(len(m.b)) {
			return fmt.Errorf("string of %d bytes at offset %d is longer than the pickle", n, m.pos)
		}
		s, err := m.read(int(n))
		if err != nil {
			return err
		}
		return m.push(string(s))
	case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
		var idx uint64
		var err error
		switch op {
		case 'q':
			idx, err = m.uint(1)
		case 'r':
			idx, err = m.uint(4)
		default:
			idx = uint64(len(m.memo))
		}
		if err != nil {
			return err
		}
		if idx >= maxMemo {
			return fmt.Errorf("memo index %d too large", idx)
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		m.memo[int64(idx)] = v
		return nil
	case 'h', 'j': // BINGET, LONG_BINGET
		width := 1
		if op == 'j' {
			width = 4
		}
		idx, err := m.uint(width)
		if err != nil {
			return err
		}
		v, ok := m.memo[int64(idx)]
		if !ok {
			return fmt.Errorf("memo index %d not set (offset %d)", idx, m.pos)
		}
		return m.push(v)
	case 't': // TUPLE
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.push(tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op - 0x84)
		if len(m.stack) < n {
			return fmt.Errorf("stack underflow at offset %d", m.pos)
		}
		items := append(tuple(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		return m.push(items)
	case 'l': // LIST
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.push(&list{items: items})
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			v, err := m.pop()
			if err != nil {
				return err
			}
			items = []any{v}
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		l, ok := t.(*list)
		if !ok {
			return fmt.Errorf("APPEND to a %s", typeName(t))
		}
		l.items = append(l.items, items...)
		return nil
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		if op == 's' {
			if len(m.stack) < 2 {
				return fmt.Errorf("stack underflow at offset %d", m.pos)
			}
			items = append(items, m.stack[len(m.stack)-2:]...)
			m.stack = m.stack[:len(m.stack)-2]
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
			if len(items)%2 != 0 {
				return fmt.Errorf("SETITEMS with an odd number of items at offset %d", m.pos)
			}
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		d, ok := t.(*dict)
		if !ok {
			return fmt.Errorf("SETITEM on a %s", typeName(t))
		}
		for i := 0; i < len(items); i += 2 {
			if err := d.set(items[i], items[i+1]); err != nil {
				return err
			}
		}
		return nil
	case 'c': // GLOBAL "module\nname\n"
		module, err := m.line()
		if err != nil {
			return err
		}
		name, err := m.line()
		if err != nil {
			return err
		}
		return m.pushGlobal(module, name)
	case 0x93: // STACK_GLOBAL
		n, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := n.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of non-strings")
		}
		return m.pushGlobal(ms, ns)
	case 'Q': // BINPERSID
		pid, err := m.pop()
		if err != nil {
			return err
		}
		s, err := persistentStorage(pid)
		if err != nil {
			return err
		}
		return m.push(s)
	case 'R': // REDUCE
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		a, ok := args.(tuple)
		if !ok {
			return fmt.Errorf("REDUCE with arguments of type %s", typeName(args))
		}
		g, ok := fn.(global)
		if !ok {
			return fmt.Errorf("REDUCE calls a %s", typeName(fn))
		}
		v, err := call(g, a)
		if err != nil {
			return err
		}
		return m.push(v)
	case 'b': // BUILD: state for the object below it
		state, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		switch t.(type) {
		case *dict, *tensorRef: // a state dict's _metadata; tensor attributes
			if _, ok := state.(*dict); ok || state == nil {
				return nil
			}
			if tp, ok := state.(tuple); ok && len(tp) == 2 {
				return nil // (dict state, slot state)
			}
		}
		return fmt.Errorf("BUILD of a %s with a %s", typeName(t), typeName(state))
	}
	return &RefusedError{What: fmt.Sprintf("pickle opcode 0x%02x at offset %d", op, m.pos-1)}
}

// pushLong pushes a little-endian two's-complement integer of LONG1.
func (m *machine) pushLong(s []byte) error {
	if len(s) > 8 {
		return fmt.Errorf("integer of %d bytes at offset %d does not fit 64 bits", len(s), m.pos)
	}
	if len(s) == 0 {
		return m.push(int64(0))
	}
	be := make([]byte, len(s))
	for i := range s {
		be[len(s)-1-i] = s[i]
	}
	v := new(big.Int).SetBytes(be)
	if s[len(s)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(s))))
	}
	if !v.IsInt64() {
		return fmt.Errorf("integer at offset %d does not fit 64 bits", m.pos)
	}
	return m.push(v.Int64())
}

func (m *machine) pushGlobal(module, name string) error {
	if !allowedGlobal(module, name) {
		return &RefusedError{What: "global " + module + "." + name}
	}
	return m.push(global{module, name})
}

// persistentStorage reads torch's persistent id of a storage:
// ("storage", torch.XStorage, key, location, numel).
func persistentStorage(pid any) (*storageRef, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("persistent id %s, expected a storage (\"storage\", class, key, location, numel)", typeName(pid))
	}
	g, ok := t[1].(global)
	key, ok2 := t[2].(string)
	numel, ok3 := t[4].(int64)
	if !ok || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("malformed storage persistent id")
	}
	dt, ok := storageDTypes[g.name]
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("storage class %s.%s is not a tensor storage", g.module, g.name)
	}
	return &storageRef{dtype: dt, key: key, numel: numel}, nil
}

// call runs one of the allowed globals.
func call(g global, a tuple) (any, error) {
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(a) != 0 {
			return nil, fmt.Errorf("OrderedDict called with %d arguments", len(a))
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, requires_grad,
		// backward_hooks[, metadata])
		if len(a) < 6 || len(a) > 7 {
			return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments, expected 6 or 7", len(a))
		}
		s, ok := a[0].(*storageRef)
		off, ok2 := a[1].(int64)
		shape, err := ints(a[2])
		if err != nil || !ok || !ok2 {
			return nil, fmt.Errorf("_rebuild_tensor_v2: expected a storage, an offset and a shape")
		}
		stride, err := ints(a[3])
		if err != nil || len(stride) != len(shape) {
			return nil, fmt.Errorf("_rebuild_tensor_v2: stride of another rank than the shape")
		}
		return &tensorRef{storage: s, offset: off, shape: shape, stride: stride}, nil
	case "torch._utils._rebuild_parameter":
		if len(a) != 3 {
			return nil, fmt.Errorf("_rebuild_parameter with %d arguments, expected 3", len(a))
		}
		t, ok := a[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("_rebuild_parameter of a %s", typeName(a[0]))
		}
		return t, nil
	}
	return nil, &RefusedError{What: "call of " + g.module + "." + g.name}
}

func ints(v any) ([]int64, error) {
	t, ok := v.(tuple)
	if !ok {
		return nil, fmt.Errorf("expected a tuple of integers")
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("expected a tuple of integers")
		}
		out[i] = n
	}
	return out, nil
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case bool:
		return "bool"
	case tuple:
		return "tuple"
	case *list:
		return "list"
	case *dict:
		return "dict"
	case global:
		return v.module + "." + v.name
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

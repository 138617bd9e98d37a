package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The kinds of setting values Decode knows: those of Run's fields (Field.Kind)
// and, for other commands' settings, durations and lists of strings.
const (
	KindString   = "string"
	KindInt      = "int"
	KindUint64   = "uint64"
	KindFloat64  = "float64"
	KindBool     = "bool"
	KindDuration = "duration"
	KindList     = "list"
)

// Expected says what a setting of kind takes, for error messages.
func Expected(kind string) string {
	switch kind {
	case KindInt:
		return "an integer"
	case KindUint64:
		return "a non-negative integer"
	case KindFloat64:
		return "a number"
	case KindBool:
		return "true or false"
	case KindDuration:
		return "a duration such as 30s or 2m"
	case KindList:
		return "a string or a list of strings"
	}
	return "a string"
}

// Text is the YAML node of a value written as text: a flag's, an
// environment variable's, a --set key=value's. It is a string node, so that
// a string setting takes it as written ("0755", "null"); Decode reads
// numbers and booleans from it as from any scalar.
func Text(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// ValueNode is the YAML node of a value as JSON or YAML decoding into
// interfaces gives it (string, bool, json.Number, int, float64, nil, a
// list of those), for Decode.
func ValueNode(v any) *yaml.Node {
	scalar := func(tag, s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s} }
	switch x := v.(type) {
	case nil:
		return scalar("!!null", "")
	case string:
		return Text(x)
	case bool:
		return scalar("!!bool", strconv.FormatBool(x))
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return scalar("!!int", string(x))
		}
		return scalar("!!float", string(x))
	case int:
		return scalar("!!int", strconv.Itoa(x))
	case int64:
		return scalar("!!int", strconv.FormatInt(x, 10))
	case uint64:
		return scalar("!!int", strconv.FormatUint(x, 10))
	case float64:
		return scalar("!!float", strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			n.Content = append(n.Content, ValueNode(e))
		}
		return n
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

// Decode turns the value of a setting of kind into a typed value: string,
// int, uint64, float64, bool, time.Duration, or []string for KindList.
// Every way a setting is given comes here, as a YAML node (Text for text,
// ValueNode for decoded JSON): flags, MIXFT_* variables, --config files,
// sweep files and --set, manifests, a run's config.yaml and
// trainer_state.json. So a value means one thing wherever it is written:
// a number may be quoted ("3"), an integer may be written as a float with
// no fraction (3.0, 1e3), booleans are true/false (strconv.ParseBool), and a
// string setting takes the value's text as written. The error is a
// *FieldError with Value and Expected set (the caller knows the key and
// the source).
func Decode(kind string, n *yaml.Node) (any, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	bad := func(value string) error { return &FieldError{Value: value, Expected: Expected(kind)} }
	switch {
	case kind == KindList && n.Kind == yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, bad("an empty list")
		}
		var out []string
		for _, item := range n.Content {
			for item.Kind == yaml.AliasNode && item.Alias != nil {
				item = item.Alias
			}
			switch {
			case item.Kind != yaml.ScalarNode:
				return nil, bad("a list of lists or maps")
			case isNull(item):
				return nil, bad("a list with an empty item")
			}
			out = append(out, item.Value)
		}
		return out, nil
	case n.Kind == yaml.SequenceNode:
		return nil, bad("a list")
	case n.Kind != yaml.ScalarNode:
		return nil, bad("a map")
	case isNull(n):
		return nil, bad("nothing")
	}
	s := n.Value
	t := strings.TrimSpace(s)
	switch kind {
	case KindString:
		return s, nil
	case KindList:
		return []string{s}, nil
	case KindBool:
		if b, err := strconv.ParseBool(t); err == nil {
			return b, nil
		}
	case KindFloat64:
		if x, err := strconv.ParseFloat(t, 64); err == nil {
			return x, nil
		}
	case KindInt:
		if i, err := strconv.ParseInt(t, 0, 64); err == nil && i == int64(int(i)) {
			return int(i), nil
		}
		if x, ok := integral(t); ok {
			return int(x), nil
		}
	case KindUint64:
		if u, err := strconv.ParseUint(t, 0, 64); err == nil {
			return u, nil
		}
		if x, ok := integral(t); ok && x >= 0 {
			return uint64(x), nil
		}
	case KindDuration:
		if d, err := time.ParseDuration(t); err == nil {
			return d, nil
		}
	default:
		return nil, fmt.Errorf("setting of unknown kind %s", kind)
	}
	return nil, bad(strconv.Quote(s))
}

// isNull reports whether a scalar is YAML's null (an empty value, ~, null);
// a Text node never is.
func isNull(n *yaml.Node) bool { return n.ShortTag() == "!!null" }

// integral parses a number with no fraction written as a float ("3.0",
// "1e3"), exact as an integer (below 2^53 in magnitude).
func integral(s string) (float64, bool) {
	x, err := strconv.ParseFloat(s, 64)
	return x, err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53
}

// KindOf is the kind of a Run setting's key (a Hugging Face name stands
// for its key); ok is false for a key Run does not have.
func KindOf(key string) (kind string, ok bool) {
	key = Canonical(key)
	for _, f := range Fields() {
		if f.Key == key {
			return f.Kind, true
		}
	}
	return "", false
}

// DecodeSetting is Decode for the Run setting key (or a Hugging Face name
// of one); the error is a *FieldError naming the key.
func DecodeSetting(key string, n *yaml.Node) (any, error) {
	key = Canonical(key)
	kind, ok := KindOf(key)
	if !ok {
		return nil, fmt.Errorf("unknown setting %q", key)
	}
	v, err := Decode(kind, n)
	if fe, isField := err.(*FieldError); isField {
		fe.Key = key
	}
	return v, err
}

// Entry is one key: value of a YAML map of settings, with the line of its
// key.
type Entry struct {
	Key   string
	Line  int
	Value *yaml.Node
}

// Entries lists the keys of a YAML map in order, with YAML merge keys
// (<<: *anchor, or a list of them) expanded: a merged map's keys come
// where the merge key stands, and a key the map itself gives wins over a
// merged one. A merge key that is not a map (or a list of maps) is an
// error naming its line.
func Entries(m *yaml.Node) ([]Entry, error) {
	for m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	own := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !isMerge(k) {
			own[k.Value] = true
		}
	}
	var out []Entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !isMerge(k) {
			out = append(out, Entry{Key: k.Value, Line: k.Line, Value: v})
			continue
		}
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			for src.Kind == yaml.AliasNode && src.Alias != nil {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("line %d: a merge key (<<) takes a map or a list of maps", k.Line)
			}
			merged, err := Entries(src)
			if err != nil {
				return nil, err
			}
			// Of the merged maps, the first to give a key wins (as YAML's
			// merge does); the map's own keys win over all of them.
			for _, e := range merged {
				if !own[e.Key] && !seen[e.Key] {
					seen[e.Key] = true
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

// isMerge reports whether a map key is YAML's merge key <<.
func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

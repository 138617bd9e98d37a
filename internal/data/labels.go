package data

// This file defines, once, how the text of a label becomes a class: the
// label's key (what Task.Labels holds for the user's own data) and its
// kind (number, boolean or string), which must be the same for every
// label of a file.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// labelValue is one label as a class: its key and its kind.
type labelValue struct {
	key  string
	kind Kind // KindNumber, KindBool or KindString
}

// typedFormat reports whether the format's cells carry their own kind
// (JSON), rather than being text whose kind is read from it (CSV, TSV).
func typedFormat(f Format) bool { return f == FormatJSON || f == FormatJSONL }

// labelOf returns the class of a label cell holding text of kind k; typed
// says whether k is the file's own (JSON) or the cell is text (CSV, TSV,
// a name given on the command line). The rules, as pandas' CSV reader and
// Hugging Face datasets type a label column:
//   - a number (JSON number, or text that is a decimal number such as 1,
//     1.0, 01, +1, 1e3) is keyed by its value: an integer below 2^53 as
//     the integer ("1"), any other value in Go's shortest form ("0.5",
//     "1e+100"); so 1, 1.0, 01 and +1 are one class;
//   - a boolean (JSON true/false, or the text True, TRUE, true, False,
//     FALSE, false) is keyed "true" or "false";
//   - a string (a JSON string, any other text) is its own key, as it is:
//     in JSON, "1" is a string and 1 a number.
func labelOf(text string, k Kind, typed bool) labelValue {
	if typed {
		switch k {
		case KindNumber:
			if f, ok := parseNumber(text); ok {
				return labelValue{numberKey(f), KindNumber}
			}
		case KindBool:
			return labelValue{strings.TrimSpace(text), KindBool}
		}
		return labelValue{text, KindString}
	}
	if f, ok := parseNumber(text); ok {
		return labelValue{numberKey(f), KindNumber}
	}
	switch strings.TrimSpace(text) {
	case "True", "TRUE", "true":
		return labelValue{"true", KindBool}
	case "False", "FALSE", "false":
		return labelValue{"false", KindBool}
	}
	return labelValue{text, KindString}
}

// numberKey writes the class key of a number label (see labelOf).
func numberKey(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10) // -0 too gives "0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// parseNumber parses a finite decimal number (optional sign, digits with
// an optional fraction, optional exponent, spaces around allowed); hex,
// underscores, inf and nan are not numbers here.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// isDecimal reports whether s is [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// kindWord names a label kind in messages.
func kindWord(k Kind) string {
	switch k {
	case KindNumber:
		return "a number"
	case KindBool:
		return "a boolean"
	}
	return "a string"
}

// labelShow writes a label's text for a message: numbers and booleans as
// they are, strings quoted (so 1 and "1" read differently).
func labelShow(text string, k Kind) string {
	if k == KindString {
		return quoteShort([]byte(text))
	}
	return strings.TrimSpace(text)
}

// labelKinds checks that labels are all of one kind as they are read,
// remembering the first one; check returns the error naming both.
type labelKinds struct {
	first     labelValue
	firstText string
	firstLine int
	seen      bool
}

// check records the label text (of class v) at path:line, or returns an
// error when its kind differs from the first label's.
func (lk *labelKinds) check(path string, line int, text string, v labelValue) error {
	if !lk.seen {
		lk.first, lk.firstText, lk.firstLine, lk.seen = v, text, line, true
		return nil
	}
	if v.kind == lk.first.kind {
		return nil
	}
	return fmt.Errorf("%s:%d: label %s is %s, but the label on line %d, %s, is %s; every label of a file must be of one kind (numbers, strings or booleans)",
		path, line, labelShow(text, v.kind), kindWord(v.kind), lk.firstLine, labelShow(lk.firstText, lk.first.kind), kindWord(lk.first.kind))
}

// sortLabels sorts class keys as run_glue.py sorts a label set: numbers
// by value, other kinds as strings.
func sortLabels(keys []string, k Kind) {
	if k != KindNumber {
		slices.Sort(keys)
		return
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		x, _ := parseNumber(a)
		y, _ := parseNumber(b)
		return cmp.Or(cmp.Compare(x, y), strings.Compare(a, b))
	})
}

// givenLabels turns the label names given by the user (--labels) into
// class keys, read as text (labelOf), or takes them as keys already (a
// saved model's id2label). An empty name, two names of one class (x and
// x; 1 and 1.0 unless they are keys) and names of different kinds are
// refused, each in one line.
func givenLabels(names []string, areKeys bool) ([]string, error) {
	list := strings.Join(names, ",")
	keys := make([]string, len(names))
	var first labelValue
	for i, n := range names {
		if strings.TrimSpace(n) == "" {
			return nil, fmt.Errorf("custom data: labels %q: label %d of %d is empty; give every label a name", list, i+1, len(names))
		}
		v := labelOf(n, KindString, false)
		if areKeys {
			if slices.Contains(keys[:i], n) {
				return nil, fmt.Errorf("custom data: label %q is given twice", n)
			}
			keys[i] = n
			continue
		}
		if j := slices.Index(keys[:i], v.key); j >= 0 {
			if names[j] == n {
				return nil, fmt.Errorf("custom data: label %q is given twice", n)
			}
			return nil, fmt.Errorf("custom data: labels %q: %q and %q are one class (%s)", list, names[j], n, v.key)
		}
		if i == 0 {
			first = v
		} else if v.kind != first.kind {
			return nil, fmt.Errorf("custom data: labels %q: %s is %s, %s is %s; give labels of one kind", list,
				labelShow(n, v.kind), kindWord(v.kind), labelShow(names[0], first.kind), kindWord(first.kind))
		}
		keys[i] = v.key
	}
	return keys, nil
}

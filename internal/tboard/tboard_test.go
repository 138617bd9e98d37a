package tboard

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crc32c is a bitwise CRC-32C (Castagnoli, reflected polynomial
// 0x82F63B78), written out here so that the test does not share the
// writer's hash/crc32 table.
func crc32c(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// mask is TensorFlow's formula (tensorflow/core/lib/hash/crc32c.h).
func mask(c uint32) uint32 { return ((c >> 15) | (c << 17)) + 0xa282ead8 }

func TestMaskedCRCKnownAnswers(t *testing.T) {
	// CRC-32C check values: "123456789" (the catalogue's check value) and
	// 32 zero bytes (TensorFlow's crc32c_test).
	for _, c := range []struct {
		in  []byte
		crc uint32
	}{
		{[]byte("123456789"), 0xE3069283},
		{make([]byte, 32), 0x8A9136AA},
	} {
		if got := crc32c(c.in); got != c.crc {
			t.Fatalf("test's crc32c(%q) = %#x, want %#x", c.in, got, c.crc)
		}
		if got, want := MaskedCRC(c.in), mask(c.crc); got != want {
			t.Errorf("MaskedCRC(%q) = %#x, want %#x", c.in, got, want)
		}
	}
	// By hand: 0xE3069283 >> 15 = 0x1C60D, << 17 (32 bits) = 0x25060000;
	// or'ed 0x2507C60D, + 0xa282ead8 = 0xC78AB0E5.
	if got := MaskedCRC([]byte("123456789")); got != 0xC78AB0E5 {
		t.Errorf("MaskedCRC(123456789) = %#x, want 0xc78ab0e5", got)
	}
}

// event is a decoded tensorflow.Event (the fields the writer uses).
type event struct {
	wallTime    float64
	step        int64
	fileVersion string
	values      map[string]float32
	tags        []string
}

// readRecords splits a TFRecord file, checking both CRCs of each record.
func readRecords(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("truncated record header: %d bytes", len(b))
		}
		n := binary.LittleEndian.Uint64(b[:8])
		if got, want := binary.LittleEndian.Uint32(b[8:12]), mask(crc32c(b[:8])); got != want {
			t.Fatalf("length CRC %#x, want %#x", got, want)
		}
		if uint64(len(b)-16) < n {
			t.Fatalf("record of %d bytes, %d left", n, len(b)-16)
		}
		data := b[12 : 12+n]
		if got, want := binary.LittleEndian.Uint32(b[12+n:16+n]), mask(crc32c(data)); got != want {
			t.Fatalf("data CRC %#x, want %#x", got, want)
		}
		recs = append(recs, data)
		b = b[16+n:]
	}
	return recs
}

// field is one decoded protocol buffer field.
type field struct {
	num, wire int
	varint    uint64
	fixed     uint64
	bytes     []byte
}

// fields decodes a protocol buffer message.
func fields(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("bad key varint")
		}
		b = b[n:]
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.varint, n = binary.Uvarint(b)
			b = b[n:]
		case 1:
			f.fixed, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			f.fixed, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			t.Fatalf("wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out
}

func decodeEvent(t *testing.T, b []byte) event {
	ev := event{values: map[string]float32{}}
	for _, f := range fields(t, b) {
		switch {
		case f.num == 1 && f.wire == 1:
			ev.wallTime = math.Float64frombits(f.fixed)
		case f.num == 2 && f.wire == 0:
			ev.step = int64(f.varint)
		case f.num == 3 && f.wire == 2:
			ev.fileVersion = string(f.bytes)
		case f.num == 5 && f.wire == 2:
			for _, v := range fields(t, f.bytes) {
				if v.num != 1 || v.wire != 2 {
					t.Fatalf("Summary field %d wire %d", v.num, v.wire)
				}
				var tag string
				var val float32
				for _, x := range fields(t, v.bytes) {
					switch {
					case x.num == 1 && x.wire == 2:
						tag = string(x.bytes)
					case x.num == 2 && x.wire == 5:
						val = math.Float32frombits(uint32(x.fixed))
					default:
						t.Fatalf("Summary.Value field %d wire %d", x.num, x.wire)
					}
				}
				ev.values[tag] = val
				ev.tags = append(ev.tags, tag)
			}
		default:
			t.Fatalf("Event field %d wire %d", f.num, f.wire)
		}
	}
	return ev
}

func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "tensorboard")
	clock := time.Unix(1700000000, 250_000_000)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	w, err := Create(dir, Options{Host: "node7", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "events.out.tfevents.1700000001.node7"); w.Path() != want {
		t.Errorf("path %s, want %s", w.Path(), want)
	}
	steps := []struct {
		step int64
		vals map[string]float64
	}{
		{1, map[string]float64{"train/loss": 0.6931, "train/learning_rate": 2e-5, "train/grad_norm": 3.25}},
		{2, map[string]float64{"train/loss": math.NaN()}},
		{300, map[string]float64{"eval/loss": 0.5, "eval/accuracy": 0.75}},
	}
	for _, s := range steps {
		if err := w.Scalars(s.step, s.vals); err != nil {
			t.Fatal(err)
		}
	}
	// Every scalar is on disk before Close.
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(readRecords(t, b)); got != 1+len(steps) {
		t.Fatalf("%d records before Close, want %d", got, 1+len(steps))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(w.Path())
	recs := readRecords(t, b)
	first := decodeEvent(t, recs[0])
	if first.fileVersion != "brain.Event:2" || first.wallTime != 1700000001.25 || len(first.values) != 0 {
		t.Errorf("first event %+v", first)
	}
	for i, s := range steps {
		ev := decodeEvent(t, recs[i+1])
		if ev.step != s.step || ev.wallTime != float64(1700000002+i)+0.25 || ev.fileVersion != "" {
			t.Errorf("event %d: step %d wall %v version %q", i, ev.step, ev.wallTime, ev.fileVersion)
		}
		if len(ev.values) != len(s.vals) {
			t.Errorf("event %d: values %v, want %v", i, ev.values, s.vals)
		}
		for tag, v := range s.vals {
			got, ok := ev.values[tag]
			if !ok || !(got == float32(v) || math.IsNaN(v) && math.IsNaN(float64(got))) {
				t.Errorf("event %d: %s = %v, want %v", i, tag, got, float32(v))
			}
		}
		if !sortedStrings(ev.tags) {
			t.Errorf("event %d: tags %v not sorted", i, ev.tags)
		}
	}
	// A second writer in the same second gets its own file or an error,
	// never appends to another writer's file.
	clock = time.Unix(1700000000, 250_000_000)
	if _, err := Create(dir, Options{Host: "node7", Now: now}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second writer on the same file name: %v", err)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// A known record, byte for byte: the file_version event at wall time 1.5.
func TestFirstRecordBytes(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, Options{Host: "h", Now: func() time.Time { return time.Unix(1, 500_000_000) }})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, _ := os.ReadFile(w.Path())
	// Event{wall_time: 1.5 (field 1, fixed64), file_version: "brain.Event:2" (field 3)}
	data := append([]byte{0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a, 13}, "brain.Event:2"...)
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(data)))
	want = binary.LittleEndian.AppendUint32(want, mask(crc32c(want[:8])))
	want = append(want, data...)
	want = binary.LittleEndian.AppendUint32(want, mask(crc32c(data)))
	if fmt.Sprintf("%x", b) != fmt.Sprintf("%x", want) {
		t.Errorf("file\n %x\nwant\n %x", b, want)
	}
}

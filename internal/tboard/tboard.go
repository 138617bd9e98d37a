// Package tboard writes TensorBoard event files: scalars that
// `tensorboard --logdir` shows, with no TensorFlow or protobuf dependency.
//
// An event file is a sequence of TFRecords (tensorflow/core/lib/io/record_writer.cc):
//
//	uint64 length (little-endian)
//	uint32 masked CRC-32C of the 8 length bytes
//	byte   data[length]
//	uint32 masked CRC-32C of data
//
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. Each
// record's data is a serialized tensorflow.Event protocol buffer
// (tensorflow/core/util/event.proto); the first one carries file_version
// "brain.Event:2", the others a Summary of simple_value scalars. The
// protocol buffers are encoded here by hand: only the few fields below are
// written.
package tboard

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// FileVersion is the file_version of an event file's first event.
const FileVersion = "brain.Event:2"

// Field numbers and wire types of the protocol buffer messages written.
const (
	// tensorflow.Event
	eventWallTime    = 1 // double
	eventStep        = 2 // int64
	eventFileVersion = 3 // string
	eventSummary     = 5 // Summary
	// tensorflow.Summary
	summaryValue = 1 // repeated Summary.Value
	// tensorflow.Summary.Value
	valueTag         = 1 // string
	valueSimpleValue = 2 // float

	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC is TFRecord's masked CRC-32C of b.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// Options configures Create.
type Options struct {
	// Host names the machine in the file name; "" = os.Hostname.
	Host string
	// Now is the clock for wall times and the file name; nil = time.Now.
	Now func() time.Time
}

// Writer appends events to one event file.
type Writer struct {
	path string
	f    *os.File
	w    *bufio.Writer
	now  func() time.Time
	buf  []byte
}

// Create makes dir (and its parents) and a new event file in it, named
// events.out.tfevents.<unix seconds, 10 digits>.<host> as TensorFlow names
// them, and writes the file_version event.
func Create(dir string, opt Options) (*Writer, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		opt.Host = h
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	now := opt.Now()
	path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%010d.%s", now.Unix(), opt.Host))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	w := &Writer{path: path, f: f, w: bufio.NewWriter(f), now: opt.Now}
	ev := w.eventHeader(now, 0)
	ev = appendTag(ev, eventFileVersion, wireBytes)
	ev = appendBytes(ev, []byte(FileVersion))
	if err := w.record(ev); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path is the event file's path.
func (w *Writer) Path() string { return w.path }

// Scalars writes one event at step holding a scalar per tag (in sorted tag
// order) and flushes it, so that TensorBoard sees it while the run goes on.
// Values are stored as float32, as TensorBoard's simple_value is.
func (w *Writer) Scalars(step int64, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for t := range values {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	var summary []byte
	for _, t := range tags {
		var v []byte
		v = appendTag(v, valueTag, wireBytes)
		v = appendBytes(v, []byte(t))
		v = appendTag(v, valueSimpleValue, wireFixed32)
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(float32(values[t])))
		summary = appendTag(summary, summaryValue, wireBytes)
		summary = appendBytes(summary, v)
	}
	ev := w.eventHeader(w.now(), step)
	ev = appendTag(ev, eventSummary, wireBytes)
	ev = appendBytes(ev, summary)
	return w.record(ev)
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tensorboard: %s: %w", w.path, err)
	}
	return nil
}

// eventHeader encodes an Event's wall_time and (when not 0) step.
func (w *Writer) eventHeader(t time.Time, step int64) []byte {
	ev := w.buf[:0]
	ev = appendTag(ev, eventWallTime, wireFixed64)
	ev = binary.LittleEndian.AppendUint64(ev, math.Float64bits(float64(t.Unix())+float64(t.Nanosecond())/1e9))
	if step != 0 {
		ev = appendTag(ev, eventStep, wireVarint)
		ev = binary.AppendUvarint(ev, uint64(step))
	}
	return ev
}

// record writes data as one TFRecord and flushes.
func (w *Writer) record(data []byte) error {
	var head [12]byte
	binary.LittleEndian.PutUint64(head[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(head[8:], MaskedCRC(head[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], MaskedCRC(data))
	w.w.Write(head[:])
	w.w.Write(data)
	w.w.Write(tail[:])
	w.buf = data[:0]
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("tensorboard: %s: %w", w.path, err)
	}
	return nil
}

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

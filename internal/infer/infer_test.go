package infer

import (
	"math"
	"slices"
	"testing"

	"github.com/mixft/mixft/internal/cpu"
	"github.com/mixft/mixft/internal/data"
	"github.com/mixft/mixft/internal/fixture"
	"github.com/mixft/mixft/internal/model"
)

// needCheckpointA returns the path of the fixture checkpoint A, ending the
// test as internal/fixture says when it is missing.
func needCheckpointA(t *testing.T) string {
	t.Helper()
	return fixture.Path(t, "fixtures", "checkpoints", "A")
}

func setup(t *testing.T, id2label []string, batch int) (*Predictor, []data.Example) {
	t.Helper()
	checkpointA := needCheckpointA(t)
	ck, err := model.Load(checkpointA, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id2label != nil {
		ck.Config.ID2Label = id2label
	}
	tok, err := data.LoadTokenizer(checkpointA, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := data.LookupTask("rte")
	p, err := NewPredictor(cpu.New(2), ck, tok, task, Options{MaxSeqLen: 64, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	texts := [][2]string{
		{"the cat sat on the mat.", "a cat was sitting."},
		{"short", "pair"},
		{"a much longer first sentence that goes on and on about nothing in particular at all.", "and a second one."},
		{"x", "y z"},
		{"he went to the market in the morning to buy some bread and milk.", "he bought bread."},
	}
	var ex []data.Example
	for i, tx := range texts {
		ex = append(ex, data.Example{Index: string(rune('0' + i)), TextA: tx[0], TextB: tx[1], LabelID: i % 2, HasLabel: true, Label: task.Labels[i%2]})
	}
	return p, ex
}

// TestPredictIndependentOfBatching: batch size and length sorting must not
// change any example's logits, and predictions come back in input order.
func TestPredictIndependentOfBatching(t *testing.T) {
	p1, ex := setup(t, nil, 1)
	p5, _ := setup(t, nil, 5)
	a, err := p1.Predict(ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p5.Predict(ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ex {
		if a[i].Index != ex[i].Index || b[i].Index != ex[i].Index {
			t.Fatalf("prediction %d has index %q/%q", i, a[i].Index, b[i].Index)
		}
		for j := range a[i].Logits {
			if d := math.Abs(float64(a[i].Logits[j] - b[i].Logits[j])); d > 1e-6 {
				t.Errorf("example %d logit %d differs by %g between batch sizes", i, j, d)
			}
		}
	}
}

// TestLabelNamesDecideOrder: a checkpoint whose id2label names the task's
// labels in another order has its outputs mapped to the task's order.
func TestLabelNamesDecideOrder(t *testing.T) {
	plain, ex := setup(t, nil, 4)
	swapped, _ := setup(t, []string{"not_entailment", "entailment"}, 4)
	a, _ := plain.Predict(ex, nil)
	b, _ := swapped.Predict(ex, nil)
	for i := range ex {
		if a[i].Logits[0] != b[i].Logits[1] || a[i].Logits[1] != b[i].Logits[0] {
			t.Fatalf("example %d: logits %v vs swapped %v", i, a[i].Logits, b[i].Logits)
		}
		if a[i].Label == b[i].Label && a[i].Logits[0] != a[i].Logits[1] {
			t.Fatalf("example %d: label %q unchanged by the swapped head", i, a[i].Label)
		}
	}
	m, err := Metrics(plain.Task, ex, a)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := range ex {
		if a[i].Class == ex[i].LabelID {
			correct++
		}
	}
	if want := float64(correct) / float64(len(ex)); m["accuracy"] != want {
		t.Fatalf("accuracy %v, want %v", m["accuracy"], want)
	}
}

func TestPredictorRejectsMismatches(t *testing.T) {
	checkpointA := needCheckpointA(t)
	ck, _ := model.Load(checkpointA, model.LoadOptions{})
	tok, _ := data.LoadTokenizer(checkpointA, nil)
	stsb, _ := data.LookupTask("sts-b")
	if _, err := NewPredictor(cpu.New(1), ck, tok, stsb, Options{MaxSeqLen: 32, BatchSize: 8}); err == nil {
		t.Error("2-output model accepted for STS-B")
	}
	rte, _ := data.LookupTask("rte")
	for _, o := range []Options{{MaxSeqLen: 65, BatchSize: 8}, {MaxSeqLen: 2, BatchSize: 8}, {MaxSeqLen: 32, BatchSize: 0}} {
		if _, err := NewPredictor(cpu.New(1), ck, tok, rte, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestCollateMatchesPadded: every row of a collated batch is its encoding
// padded as data.Encoding.Padded pads it, also when b is reused.
func TestCollateMatchesPadded(t *testing.T) {
	encs := []data.Encoding{
		{InputIDs: []int32{2, 5, 3}, TokenTypeIDs: []int32{0, 0, 0}, AttentionMask: []int32{1, 1, 1}},
		{InputIDs: []int32{2, 6, 7, 3, 8, 3}, TokenTypeIDs: []int32{0, 0, 0, 0, 1, 1}, AttentionMask: []int32{1, 1, 1, 1, 1, 1}},
		{InputIDs: []int32{2, 3}, TokenTypeIDs: []int32{0, 0}, AttentionMask: []int32{1, 1}},
	}
	b := &model.Batch{}
	Collate(b, encs[1:], 9) // a larger batch first: the second call reuses and must overwrite
	Collate(b, encs, 9)
	if b.Size != 3 || b.Seq != 6 || len(b.InputIDs) != 18 {
		t.Fatalf("batch %d×%d with %d ids", b.Size, b.Seq, len(b.InputIDs))
	}
	for i, e := range encs {
		p := e.Padded(6, 9)
		row := func(s []int32) []int32 { return s[i*6 : (i+1)*6] }
		if !slices.Equal(row(b.InputIDs), p.InputIDs) || !slices.Equal(row(b.TokenTypeIDs), p.TokenTypeIDs) || !slices.Equal(row(b.AttentionMask), p.AttentionMask) {
			t.Errorf("row %d: %v %v %v, want %v %v %v", i, row(b.InputIDs), row(b.TokenTypeIDs), row(b.AttentionMask), p.InputIDs, p.TokenTypeIDs, p.AttentionMask)
		}
	}
}

// TestMaxSeqLenLeavesRoomForSpecialTokens: the least max_seq_length is the
// tokenizer's: 3 for WordPiece ([CLS] a [SEP] b [SEP]), 4 for byte-level
// BPE (<s> a </s></s> b </s>).
func TestMaxSeqLenLeavesRoomForSpecialTokens(t *testing.T) {
	checkpointA := needCheckpointA(t)
	ck, err := model.Load(checkpointA, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wp, err := data.LoadTokenizer(checkpointA, nil)
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := data.LoadBPE(fixture.Path(t, "fixtures", "tokenization_bpe"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok     data.Encoder
		n       int
		wantErr bool
	}{{wp, 2, true}, {wp, 3, false}, {bpe, 3, true}, {bpe, 4, false}} {
		err := Options{MaxSeqLen: c.n, BatchSize: 1}.check(ck.Config, c.tok)
		if (err != nil) != c.wantErr {
			t.Errorf("%T max_seq_length %d: error %v, want error %v", c.tok, c.n, err, c.wantErr)
		}
	}
}

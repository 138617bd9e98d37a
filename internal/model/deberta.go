package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// debertaSettings are the DebertaV2Config keys that shape the attention,
// read from the keys Config keeps as they are (extra).
type debertaSettings struct {
	// Span is the number of relative positions on each side: the
	// relative embeddings have 2·Span rows.
	Span int
	// Buckets is position_buckets (≤ 0: no log buckets); MaxRel is
	// max_relative_positions (max_position_embeddings when < 1).
	Buckets, MaxRel int
}

// deberta reads and checks the DeBERTa-v2/v3 attention keys. mixft runs
// the configuration of the released v3 models: relative_attention true,
// pos_att_type c2p and p2c, share_att_key true, position_biased_input
// false, norm_rel_ebd layer_norm, no conv layer, the ContextPooler of
// hidden_size with GELU and no dropout of its own.
func (c *Config) deberta() (debertaSettings, error) {
	get := func(key string, v any) (bool, error) {
		raw, ok := c.extra[key]
		if !ok || string(raw) == "null" {
			return false, nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return false, fmt.Errorf("key %q: expected %T, got %s", key, v, raw)
		}
		return true, nil
	}
	var s debertaSettings
	var b bool
	if ok, err := get("relative_attention", &b); err != nil {
		return s, err
	} else if !ok || !b {
		return s, fmt.Errorf("key \"relative_attention\": expected true (mixft runs DeBERTa with its relative attention)")
	}
	if ok, err := get("share_att_key", &b); err != nil {
		return s, err
	} else if !ok || !b {
		return s, fmt.Errorf("key \"share_att_key\": expected true (separate pos_key_proj/pos_query_proj are not supported)")
	}
	b = true
	if _, err := get("position_biased_input", &b); err != nil {
		return s, err
	} else if b {
		return s, fmt.Errorf("key \"position_biased_input\": expected false (absolute position embeddings in DeBERTa are not supported)")
	}
	var types []string
	if raw := c.extra["pos_att_type"]; len(raw) > 0 && raw[0] == '"' {
		var str string
		json.Unmarshal(raw, &str)
		types = strings.Split(strings.ToLower(str), "|")
	} else if _, err := get("pos_att_type", &types); err != nil {
		return s, err
	}
	for i := range types {
		types[i] = strings.TrimSpace(types[i])
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{"c2p", "p2c"}) {
		return s, fmt.Errorf("key \"pos_att_type\": %v is not supported (expected [\"p2c\", \"c2p\"])", types)
	}
	norm := "none"
	if _, err := get("norm_rel_ebd", &norm); err != nil {
		return s, err
	}
	if !slices.Contains(strings.Split(strings.ToLower(norm), "|"), "layer_norm") {
		return s, fmt.Errorf("key \"norm_rel_ebd\": %q is not supported (expected \"layer_norm\")", norm)
	}
	var n int
	if _, err := get("conv_kernel_size", &n); err != nil {
		return s, err
	} else if n != 0 {
		return s, fmt.Errorf("key \"conv_kernel_size\": %d is not supported (expected 0: no convolution layer)", n)
	}
	n = c.HiddenSize
	if _, err := get("pooler_hidden_size", &n); err != nil {
		return s, err
	} else if n != c.HiddenSize {
		return s, fmt.Errorf("key \"pooler_hidden_size\": %d is not supported (expected hidden_size %d)", n, c.HiddenSize)
	}
	n = c.HeadDim()
	if _, err := get("attention_head_size", &n); err != nil {
		return s, err
	} else if n != c.HeadDim() {
		return s, fmt.Errorf("key \"attention_head_size\": %d is not supported (expected hidden_size / num_attention_heads = %d)", n, c.HeadDim())
	}
	var p float64
	if _, err := get("pooler_dropout", &p); err != nil {
		return s, err
	} else if p != 0 {
		return s, fmt.Errorf("key \"pooler_dropout\": %g is not supported (expected 0)", p)
	}
	act := "gelu"
	if _, err := get("pooler_hidden_act", &act); err != nil {
		return s, err
	} else if act != "gelu" {
		return s, fmt.Errorf("key \"pooler_hidden_act\": %q is not supported (expected \"gelu\")", act)
	}
	s.MaxRel, s.Buckets = -1, -1
	if _, err := get("max_relative_positions", &s.MaxRel); err != nil {
		return s, err
	}
	if s.MaxRel < 1 {
		s.MaxRel = c.MaxPositionEmbeddings
	}
	if _, err := get("position_buckets", &s.Buckets); err != nil {
		return s, err
	}
	s.Span = s.MaxRel
	if s.Buckets > 0 {
		s.Span = s.Buckets
		if s.Buckets < 2 || s.MaxRel <= s.Buckets/2+1 {
			return s, fmt.Errorf("key \"position_buckets\": %d needs max_relative_positions above %d, not %d", s.Buckets, s.Buckets/2+1, s.MaxRel)
		}
	}
	if s.Span > 1<<16 {
		return s, fmt.Errorf("key \"max_relative_positions\": %d relative positions are too many", s.Span)
	}
	return s, nil
}

// relBucket is transformers' make_log_bucket_position for one relative
// position d (query − key): positions within ±buckets/2 as they are,
// farther ones on a log scale up to maxRel, with d's sign.
func relBucket(d, buckets, maxRel int) int {
	if buckets <= 0 {
		return d
	}
	mid := buckets / 2
	if d < mid && d > -mid {
		return d
	}
	abs := d
	if abs < 0 {
		abs = -abs
	}
	// As torch computes it in float32: ceil(log(abs/mid) / log((maxRel−1)/mid) · (mid−1)) + mid.
	lp := float32(math.Log(float64(float32(abs)/float32(mid)))) / float32(math.Log(float64(float32(maxRel-1)/float32(mid))))
	lg := int(math.Ceil(float64(lp*float32(mid-1)))) + mid
	if abs <= mid {
		return d
	}
	if d < 0 {
		return -lg
	}
	return lg
}

// relIndex writes, for every query i and key j of a sequence of seq, the
// row of the relative embeddings both c2p and p2c read:
// clamp(bucket(i − j) + span, 0, 2·span − 1).
func (s debertaSettings) relIndex(rel []int32, seq int) {
	for i := 0; i < seq; i++ {
		for j := 0; j < seq; j++ {
			r := relBucket(i-j, s.Buckets, s.MaxRel) + s.Span
			rel[i*seq+j] = int32(min(max(r, 0), 2*s.Span-1))
		}
	}
}

// SetDeBERTaV3Attention records in c the attention settings of the
// released DeBERTa-v3 models (relative attention with share_att_key,
// pos_att_type p2c and c2p, position_buckets 256,
// max_relative_positions -1, norm_rel_ebd layer_norm,
// position_biased_input false, the pooler's GELU and no dropout of its
// own; pooler_hidden_size left to default to hidden_size), as config.json
// keys.
func (c *Config) SetDeBERTaV3Attention(buckets int) {
	extra := maps.Clone(c.extra)
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	for k, v := range map[string]string{"relative_attention": "true", "share_att_key": "true", "position_biased_input": "false",
		"pos_att_type": `["p2c","c2p"]`, "norm_rel_ebd": `"layer_norm"`, "max_relative_positions": "-1",
		"position_buckets": strconv.Itoa(buckets), "pooler_dropout": "0", "pooler_hidden_act": `"gelu"`} {
		extra[k] = json.RawMessage(v)
	}
	c.extra = extra
}

// HasTokenTypes reports whether the model adds token type embeddings (not
// DistilBERT or ModernBERT, nor DeBERTa with type_vocab_size 0).
func (c *Config) HasTokenTypes() bool {
	switch c.Family() {
	case DistilBERT, ModernBERT:
		return false
	case DeBERTa:
		return c.TypeVocabSize > 0
	}
	return true
}

package model

import "testing"

// TestRelBucket: relBucket against transformers' build_relative_position
// (make_log_bucket_position; values printed by transformers 4.44.2 for
// query i and key 0), both signs, for DeBERTa-v3's 256 buckets over 512
// positions and a small table.
func TestRelBucket(t *testing.T) {
	for _, tc := range []struct {
		buckets, maxRel int
		want            [][2]int // (d, bucket)
	}{
		{256, 512, [][2]int{{0, 0}, {1, 1}, {3, 3}, {4, 4}, {5, 5}, {7, 7}, {100, 100}, {127, 127}, {128, 128}, {129, 129},
			{130, 130}, {200, 169}, {300, 207}, {511, 255}, {512, 256}, {599, 270}}},
		{8, 64, [][2]int{{0, 0}, {3, 3}, {4, 4}, {5, 5}, {6, 5}, {10, 5}, {20, 6}, {40, 7}, {63, 7}, {64, 8}, {69, 8}}},
	} {
		for _, w := range tc.want {
			if got := relBucket(w[0], tc.buckets, tc.maxRel); got != w[1] {
				t.Errorf("buckets %d max %d: bucket(%d) = %d, want %d", tc.buckets, tc.maxRel, w[0], got, w[1])
			}
			if got := relBucket(-w[0], tc.buckets, tc.maxRel); got != -w[1] {
				t.Errorf("buckets %d max %d: bucket(%d) = %d, want %d", tc.buckets, tc.maxRel, -w[0], got, -w[1])
			}
		}
	}
}

// TestDeBERTaV3Config: the config.json of the released DeBERTa-v3 models
// (microsoft/deberta-v3-base's keys: pos_att_type as a "p2c|c2p" string,
// no pooler keys) is accepted, with 2·256 relative embeddings.
func TestDeBERTaV3Config(t *testing.T) {
	c, err := ParseConfig("config.json", []byte(`{"model_type": "deberta-v2", "attention_probs_dropout_prob": 0.1,
		"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
		"intermediate_size": 3072, "max_position_embeddings": 512, "relative_attention": true, "position_buckets": 256,
		"norm_rel_ebd": "layer_norm", "share_att_key": true, "pos_att_type": "p2c|c2p", "layer_norm_eps": 1e-7,
		"max_relative_positions": -1, "position_biased_input": false, "num_attention_heads": 12,
		"num_hidden_layers": 12, "type_vocab_size": 0, "vocab_size": 128100}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.deberta()
	if err != nil {
		t.Fatal(err)
	}
	if s.Span != 256 || s.MaxRel != 512 || c.HasTokenTypes() {
		t.Errorf("span %d, max relative %d, token types %v", s.Span, s.MaxRel, c.HasTokenTypes())
	}
}

package config

import (
	"strings"
	"unicode/utf8"
)

// Alias is a Hugging Face TrainingArguments name that stands for a mixft
// key.
type Alias struct {
	// Name is the TrainingArguments name ("learning_rate").
	Name string
	// Key is the mixft key it stands for ("lr").
	Key string
}

// Aliases are the Hugging Face names (TrainingArguments, and run_glue's
// task_name and model_name_or_path) whose mixft key differs. The
// others users write (warmup_ratio, warmup_steps, weight_decay, max_steps,
// seed, output_dir, max_grad_norm, adam_beta1, adam_beta2, eval_steps) are
// mixft keys already.
//
// per_device_train_batch_size stands for batch_size, the examples of one
// optimizer step; in transformers it is the examples of one forward pass,
// so with gradient_accumulation_steps > 1 transformers' step is larger.
var Aliases = []Alias{
	{"learning_rate", "lr"},
	{"num_train_epochs", "epochs"},
	{"per_device_train_batch_size", "batch_size"},
	{"per_device_eval_batch_size", "eval_batch_size"},
	{"gradient_accumulation_steps", "grad_accum_steps"},
	{"adam_epsilon", "adam_eps"},
	// run_glue's own arguments (ModelArguments, DataTrainingArguments).
	{"task_name", "task"},
	{"model_name_or_path", "model"},
	{"overwrite_output_dir", "overwrite"},
}

// Canonical returns the key an alias stands for, and any other key as it
// is.
func Canonical(key string) string {
	for _, a := range Aliases {
		if a.Name == key {
			return a.Key
		}
	}
	return key
}

// Suggest returns the key of valid nearest to key, for "did you mean"
// hints: the one at the smallest edit distance when that is small for the
// key's length (a typo: batch_sise), else the shortest one key begins
// (batch: batch_size); "" when none is near.
func Suggest(key string, valid []string) string {
	key = strings.ToLower(key)
	best, bestDist := "", max(2, utf8.RuneCountInString(key)/3)+1
	for _, v := range valid {
		if d := editDistance(key, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	if best != "" || len(key) < 3 {
		return best
	}
	for _, v := range valid {
		if strings.HasPrefix(v, key) && (best == "" || len(v) < len(best)) {
			best = v
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

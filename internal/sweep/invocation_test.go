package sweep_test

import (
	"testing"

	"github.com/mixft/mixft/internal/sweep"
)

func TestIndexFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		env    map[string]string
		want   int
		ok, er bool
	}{
		{map[string]string{}, 0, false, false},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": " 2 ", "JOB_COMPLETION_INDEX": "4"}, 2, true, false},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "x"}, 0, true, true},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "-1"}, 0, true, true},
	} {
		i, ok, err := sweep.IndexFromEnv(env(tc.env))
		if i != tc.want || ok != tc.ok || (err != nil) != tc.er {
			t.Errorf("%v: %d %v %v", tc.env, i, ok, err)
		}
	}
}

package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestFormatVersion: --version names the release and the commit, from the
// build flags first, else from what Go recorded.
func TestFormatVersion(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tc := range []struct {
		release, commit string
		info            *debug.BuildInfo
		want            string
	}{
		{"v1.2.0", rev, nil, "v1.2.0 (commit 0123456789ab)"},
		{"v1.2.0-3-g0123456-dirty", rev + "-modified", nil, "v1.2.0-3-g0123456-dirty (commit 0123456789ab, modified)"},
		{"", "", vcs("false"), "devel (commit 0123456789ab)"},
		{"", "", vcs("true"), "devel (commit 0123456789ab, modified)"},
		{"", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.3.0 (commit unknown)"},
		{"", "", nil, "devel (commit unknown)"},
		{"v2.0.0", "fedcba987654", vcs("false"), "v2.0.0 (commit fedcba987654)"},
	} {
		if got := formatVersion(tc.release, tc.commit, tc.info); got != tc.want {
			t.Errorf("formatVersion(%q, %q, ...) = %q, want %q", tc.release, tc.commit, got, tc.want)
		}
	}
	code, out, _ := mixft(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "mixft ") || !strings.Contains(out, "(commit ") {
		t.Errorf("--version: %d %q", code, out)
	}
}

// TestRootHelpDescribesTheCommands: mixft --help walks a new user through
// finetune (GLUE or their own data), eval, predict and sweep, with
// examples of each.
func TestRootHelpDescribesTheCommands(t *testing.T) {
	code, out, _ := mixft(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--train-file", "--validation-file", "predict    write one JSON line", "--probabilities",
		"mixft finetune --model bert-base-uncased --train-file", "mixft predict --model runs/reviews/best", "mixft --version",
		"your own CSV/JSON data"} {
		if !strings.Contains(out, want) {
			t.Errorf("mixft --help lacks %q", want)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeMaxLines is how long README.md may grow: it says what mixft is,
// how to start and where the rest is (docs/), and fits in ten minutes.
const readmeMaxLines = 220

// TestREADME: the README keeps the two set-up commands near its top, stays
// short, and every relative link in it and in docs/*.md leads to a file
// that exists.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move detail to docs/", len(lines), readmeMaxLines)
	}
	top := strings.Join(lines[:min(30, len(lines))], "\n")
	for _, cmd := range []string{"make demo", "make test"} {
		if !strings.Contains(top, cmd) {
			t.Errorf("README.md: %q is not in its first 30 lines", cmd)
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)#:\s]+)(#[^)]*)?\)`)
	for _, f := range append(docs, "../../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := filepath.Join(filepath.Dir(f), m[1])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q leads nowhere", strings.TrimPrefix(f, "../../"), m[1])
			}
		}
	}
}

// TestNoMergeLeftovers: a merge or patch leaves .rej and .orig files beside
// what it touched; none belongs in the repository (one slipped into docs/
// once).
func TestNoMergeLeftovers(t *testing.T) {
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "runs", "models", "demo-out", "bin":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".venv") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".rej" || ext == ".orig" {
			t.Errorf("%s: a merge leftover; fold what it holds into its file and delete it", strings.TrimPrefix(path, "../../"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

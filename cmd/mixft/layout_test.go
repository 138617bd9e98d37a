package main

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeImporter gives every import an empty package, so that the package
// type-checks far enough to resolve its own names without compiling its
// dependencies.
type fakeImporter struct{}

func (fakeImporter) Import(p string) (*types.Package, error) {
	name := path.Base(p)
	if regexp.MustCompile(`^v[0-9]+$`).MatchString(name) {
		name = path.Base(path.Dir(p))
	}
	pkg := types.NewPackage(p, name)
	pkg.MarkComplete()
	return pkg, nil
}

// TestCommandFilesAreIndependent: no command's file uses a name declared in
// another command's file, but for a parent command adding its subcommands
// (their new...Cmd); what commands share lives in shared files, those that
// declare no command (common.go, settings.go, manifest.go,
// sweep_shared.go, device*.go, main.go).
func TestCommandFilesAreIndependent(t *testing.T) {
	fset := token.NewFileSet()
	matches, _ := filepath.Glob("*.go")
	var files []*ast.File
	constructor := regexp.MustCompile(`^new[A-Z]\w*Cmd$`)
	command := map[string]bool{} // file -> declares a command
	for _, name := range matches {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(".", name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && constructor.MatchString(fd.Name.Name) && fd.Name.Name != "newRootCmd" {
				command[name] = true
			}
		}
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: fakeImporter{}, Error: func(error) {}}
	pkg, _ := conf.Check("mixft", fset, files, info)
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || obj.Parent() != pkg.Scope() || constructor.MatchString(id.Name) {
			continue
		}
		user, owner := fset.Position(id.Pos()).Filename, fset.Position(obj.Pos()).Filename
		if user != owner && command[user] && command[owner] {
			t.Errorf("%s: uses %s, declared in %s (another command's file)", fset.Position(id.Pos()), id.Name, owner)
		}
	}
	if len(command) < 10 {
		t.Fatalf("found %d command files", len(command))
	}
}

// Package archtest holds the checks that keep the module's shape: the
// pipeline's dependency direction, product packages free of test machinery,
// and functions short enough to read.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "lambda-role-audit"

// root is the module's directory, two levels up from this package.
var root = filepath.Join("..", "..")

// sources parses every non-test Go file of the module, outside testdata.
func sources(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".git" || d.Name() == ".aws-sam") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d source files under %s: wrong root?", len(files), root)
	}
	return fset, files
}

func TestNoLongFunctions(t *testing.T) {
	const limit = 80
	fset, files := sources(t)
	for path, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if n := end - start + 1; n > limit {
				t.Errorf("%s:%d: %s is %d lines (limit %d): split it along its steps", path, start, fn.Name.Name, n, limit)
			}
		}
	}
}

func TestProductDoesNotImportTestMachinery(t *testing.T) {
	_, files := sources(t)
	for path, f := range files {
		if !strings.HasPrefix(path, "pkg/") && !strings.HasPrefix(path, "function/") {
			continue
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if p == "testing" || strings.HasPrefix(p, module+"/internal/") {
				t.Errorf("%s imports %s: test machinery belongs under internal/ and in _test.go files", path, p)
			}
		}
	}
}

func TestNoCollectorTypeAssertionOutsideInventory(t *testing.T) {
	_, files := sources(t)
	for path, f := range files {
		if strings.HasPrefix(path, "pkg/inventory/") {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ta, ok := n.(*ast.TypeAssertExpr)
			if !ok || ta.Type == nil {
				return true
			}
			if star, ok := ta.Type.(*ast.StarExpr); ok {
				if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Live" {
					t.Errorf("%s asserts *inventory.Live: pass per-call settings through inventory.Request instead", path)
				}
			}
			return true
		})
	}
}

// TestPipelineDirection: the rules depend on policy and inventory only;
// the remediation, rendering and notification steps come after them.
func TestPipelineDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is not on PATH")
	}
	forbidden := map[string][]string{
		"pkg/policy":     {"pkg/inventory", "pkg/audit", "pkg/remediation", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run"},
		"pkg/inventory":  {"pkg/audit", "pkg/remediation", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run"},
		"pkg/audit":      {"pkg/remediation", "pkg/escalation", "pkg/usage", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run", "pkg/handler", "pkg/cli"},
		"pkg/escalation": {"pkg/remediation", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run", "pkg/handler", "pkg/cli"},
		"pkg/run":        {"pkg/render", "pkg/notify", "pkg/asff", "pkg/handler", "pkg/cli"},
		"pkg/notify":     {"pkg/asff", "pkg/run", "pkg/handler", "pkg/cli"},
		// Usage evidence is read beside planning, which stays pure.
		"pkg/usage":       {"pkg/remediation", "pkg/escalation", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run", "pkg/handler", "pkg/cli"},
		"pkg/remediation": {"pkg/usage", "pkg/render", "pkg/notify", "pkg/asff", "pkg/run", "pkg/handler", "pkg/cli"},
		// Security Hub is a delivery beside the alert: neither knows the other.
		"pkg/asff": {"pkg/notify", "pkg/render", "pkg/run", "pkg/handler", "pkg/cli"},
	}
	for pkg, bad := range forbidden {
		cmd := exec.Command("go", "list", "-deps", "./"+pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		if !deps[module+"/"+pkg] {
			t.Fatalf("go list -deps %s did not list the package itself: %s", pkg, out)
		}
		for _, b := range bad {
			if deps[module+"/"+b] {
				t.Errorf("%s depends on %s: data flows collect → evaluate → plan → report → notify, never back", pkg, b)
			}
		}
	}
}

package deploy

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module's root, from this package's directory.
const repoRoot = ".."

// notOurs are variables the code reads that are not breachctl's to list:
// why each is left out of env.example.
var notOurs = map[string]string{
	"USER":                    "the operating system's; the CLI's default actor",
	"GOGC":                    "the Go runtime's; the worker's own GC setting yields to it",
	"GOMEMLIMIT":              "the Go runtime's; the worker's own memory limit yields to it",
	"BREACHCTL_TEST_POSTGRES": "tests only (internal/testpg)",
}

// envReads finds the environment variables the Go code reads: every call
// of a function named getenv, Getenv or LookupEnv (os.Getenv, the getenv
// config.Load is given, the CLI's env.Getenv) outside tests, with the name
// as a string literal or a string constant of the same package. A call
// whose name this cannot resolve fails the test: then the scan would be
// blind to a variable. It returns each variable with where it is read.
func envReads(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	type call struct {
		dir string
		arg ast.Expr
		pos token.Pos
	}
	var calls []call
	consts := map[string]map[string]string{} // directory → constant → value
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if consts[dir] == nil {
			consts[dir] = map[string]string{}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.CONST {
					return true
				}
				for _, spec := range n.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[dir][id.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			case *ast.CallExpr:
				var fn string
				switch f := n.Fun.(type) {
				case *ast.Ident:
					fn = f.Name
				case *ast.SelectorExpr:
					fn = f.Sel.Name
				}
				if (strings.EqualFold(fn, "getenv") || fn == "LookupEnv") && len(n.Args) == 1 {
					calls = append(calls, call{dir: dir, arg: n.Args[0], pos: n.Pos()})
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string][]string{}
	for _, c := range calls {
		var name string
		switch a := c.arg.(type) {
		case *ast.BasicLit:
			name, _ = strconv.Unquote(a.Value)
		case *ast.Ident:
			name = consts[c.dir][a.Name]
		}
		where := fset.Position(c.pos).String()
		if name == "" {
			t.Errorf("%s: cannot tell which variable this reads: write its name as a string literal or constant", where)
			continue
		}
		reads[name] = append(reads[name], strings.TrimPrefix(where, repoRoot+string(filepath.Separator)))
	}
	if len(reads) < 30 {
		t.Fatalf("found only %d variables read: the scan is broken", len(reads))
	}
	return reads
}

// configReads are the variables read by internal/config: what `worker` and
// `serve` read.
func configReads(reads map[string][]string) []string {
	var out []string
	for name, where := range reads {
		if slices.ContainsFunc(where, func(w string) bool {
			return strings.HasPrefix(w, filepath.Join("internal", "config")+string(filepath.Separator))
		}) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

var exampleLine = regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)

// exampleVars are the variables env.example gives, set or commented out.
func exampleVars(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if m := exampleLine.FindStringSubmatch(sc.Text()); m != nil {
			if prev, dup := vars[m[1]]; dup {
				t.Errorf("env.example:%d: %s again (first on line %d)", n, m[1], prev)
			}
			vars[m[1]] = n
		}
	}
	return vars
}

// composeFiles are the compose file and its overrides.
var composeFiles = []string{
	filepath.Join(repoRoot, "docker-compose.yml"),
	"compose.cloud.yaml",
	"compose.outbox.yaml",
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// composeReads are the variables the compose files interpolate, with the file.
func composeReads(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, file := range composeFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range interpolation.FindAllStringSubmatch(string(data), -1) {
			vars[m[1]] = filepath.Base(file)
		}
	}
	return vars
}

// TestEnvExample: env.example lists every variable breachctl's code reads
// and every variable the compose files take from .env, and nothing else.
func TestEnvExample(t *testing.T) {
	reads := envReads(t)
	compose := composeReads(t)
	example := exampleVars(t)
	for name, where := range reads {
		if _, ok := notOurs[name]; ok {
			continue
		}
		if _, ok := example[name]; !ok {
			t.Errorf("env.example lacks %s, which the code reads (%s)", name, strings.Join(where, ", "))
		}
	}
	for name, file := range compose {
		if _, ok := example[name]; !ok {
			t.Errorf("env.example lacks %s, which %s takes from the environment", name, file)
		}
	}
	for name, line := range example {
		_, code := reads[name]
		_, comp := compose[name]
		if !code && !comp {
			t.Errorf("env.example:%d: %s is read by neither the code nor the compose files", line, name)
		}
		if why, ok := notOurs[name]; ok {
			t.Errorf("env.example:%d: %s is not breachctl's: %s", line, name, why)
		}
	}
}

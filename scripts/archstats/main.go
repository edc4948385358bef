// Command archstats prints the figures the architecture note quotes: lines
// of Go per package (tests apart), the longest functions, and the branches
// on an engine's name or a layout found outside the packages that own those
// concepts, and the lists of engine names kept outside engine/ (a slice or
// map literal holding two or more of them: each is a line a new engine
// would need). It reads source only and runs nothing.
//
// A comparison with "" (is a name set?) or of two values' fields (is it
// the same engine as the header's?) is not a branch on which engine it
// is, and is not counted.
//
//	go run ./scripts/archstats [-engine-home engine/] [-program-home mysql/,internal/testenv/] [-layout-home trove/,repo/] [-v]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	engineRe = regexp.MustCompile(`Engine\b|Engine\.Name|Engine\(|\.Physical\(\)|"physical"|"logical"`)
	// skipRe: comparisons of an engine's version or file extension are
	// not branches on which engine it is.
	skipRe   = regexp.MustCompile(`Version|Extension`)
	layoutRe = regexp.MustCompile(`\bLayout(Trove|Mybak)?\b|\.Layout\b|\blayout\b`)
	// nameRe: the engines' names as string literals (and "auto", the
	// --engine value that stands for one).
	nameRe = regexp.MustCompile(`^"(stdin|mariabackup|xtrabackup|innobackupex|mysqldump|mariadb-dump|logical|auto)"$`)
)

// notABranch reports whether comparison x tests no particular engine: one
// side is "", or both are fields of values (not a package's constant).
func notABranch(x *ast.BinaryExpr, imports map[string]bool) bool {
	for _, e := range []ast.Expr{x.X, x.Y} {
		if l, ok := e.(*ast.BasicLit); ok && l.Value == `""` {
			return true
		}
	}
	field := func(e ast.Expr) bool {
		s, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		for {
			switch y := s.X.(type) {
			case *ast.SelectorExpr:
				s = y
				continue
			case *ast.Ident:
				return !imports[y.Name]
			}
			return false
		}
	}
	return field(x.X) && field(x.Y)
}

// namesList reports whether literal c holds two or more engine names as
// its elements or its map keys.
func namesList(c *ast.CompositeLit) bool {
	n := 0
	for _, el := range c.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			el = kv.Key
		}
		if l, ok := el.(*ast.BasicLit); ok && nameRe.MatchString(l.Value) {
			n++
		}
	}
	return n >= 2
}

type fn struct {
	name  string
	lines int
}

func main() {
	engineHome := flag.String("engine-home", "engine/", "comma-separated path prefixes where engine names may be compared")
	programHome := flag.String("program-home", "mysql/,internal/testenv/", "comma-separated path prefixes that describe the programs the engines are named after (their lists of program names are not engine lists)")
	layoutHome := flag.String("layout-home", "trove/,repo/", "comma-separated path prefixes where layouts may be branched on")
	top := flag.Int("top", 5, "how many of the longest functions to print")
	verbose := flag.Bool("v", false, "print every counted branch")
	flag.Parse()

	st := &stats{fset: token.NewFileSet(), lines: map[string]int{}, engineHome: *engineHome, programHome: *programHome, layoutHome: *layoutHome}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "." && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		return st.file(path)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "archstats:", err)
		os.Exit(1)
	}
	lines, fns, engine, lists, layout := st.lines, st.fns, st.engine, st.lists, st.layout
	pkgs := make([]string, 0, len(lines))
	total := 0
	for p, n := range lines {
		pkgs = append(pkgs, p)
		total += n
	}
	sort.Strings(pkgs)
	fmt.Println("lines of Go per package (tests apart):")
	for _, p := range pkgs {
		fmt.Printf("  %-24s %6d\n", p, lines[p])
	}
	fmt.Printf("  %-24s %6d\n", "total", total)
	sort.Slice(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	fmt.Println("longest functions:")
	for i := 0; i < *top && i < len(fns); i++ {
		fmt.Printf("  %4d  %s\n", fns[i].lines, fns[i].name)
	}
	fmt.Printf("engine-name comparisons outside %s: %d\n", *engineHome, len(engine))
	fmt.Printf("engine-name lists outside %s: %d\n", *engineHome, len(lists))
	fmt.Printf("layout branches outside %s: %d\n", *layoutHome, len(layout))
	if *verbose {
		for _, s := range engine {
			fmt.Println("  engine:", s)
		}
		for _, s := range lists {
			fmt.Println("  list:", s)
		}
		for _, s := range layout {
			fmt.Println("  layout:", s)
		}
	}
}

// stats is what the walk found.
type stats struct {
	fset                                *token.FileSet
	engineHome, programHome, layoutHome string
	lines                               map[string]int
	fns                                 []fn
	engine, layout, lists               []string
}

// file counts the lines of the file at path and what it holds.
func (st *stats) file(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	pkg := filepath.Dir(path)
	st.lines[pkg] += bytes.Count(src, []byte("\n"))
	f, err := parser.ParseFile(st.fset, path, src, 0)
	if err != nil {
		return err
	}
	imports := importNames(f)
	text := func(n ast.Node) string {
		var b bytes.Buffer
		_ = printer.Fprint(&b, st.fset, n)
		return b.String()
	}
	count := func(n ast.Node, s string) {
		pos := st.fset.Position(n.Pos())
		where := fmt.Sprintf("%s:%d: %s", path, pos.Line, strings.Join(strings.Fields(s), " "))
		if engineRe.MatchString(s) && !skipRe.MatchString(s) && !home(path, st.engineHome) {
			st.engine = append(st.engine, where)
		}
		if layoutRe.MatchString(s) && !strings.Contains(s, `"layout"`) && !home(path, st.layoutHome) {
			st.layout = append(st.layout, where)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			if x.Body != nil {
				name := x.Name.Name
				if x.Recv != nil && len(x.Recv.List) > 0 {
					name = "(" + text(x.Recv.List[0].Type) + ")." + name
				}
				st.fns = append(st.fns, fn{pkg + "." + name, st.fset.Position(x.End()).Line - st.fset.Position(x.Pos()).Line + 1})
			}
		case *ast.BinaryExpr:
			if (x.Op == token.EQL || x.Op == token.NEQ) && !notABranch(x, imports) {
				count(x, text(x))
			}
		case *ast.CompositeLit:
			if namesList(x) && !home(path, st.engineHome) && !home(path, st.programHome) {
				pos := st.fset.Position(x.Pos())
				st.lists = append(st.lists, fmt.Sprintf("%s:%d: %.80s", path, pos.Line, strings.Join(strings.Fields(text(x)), " ")))
			}
		case *ast.SwitchStmt:
			if x.Tag != nil {
				count(x, "switch "+text(x.Tag))
			}
		case *ast.CallExpr:
			if s, ok := x.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Physical" && len(x.Args) == 0 {
				count(x, text(x))
			}
		}
		return true
	})
	return nil
}

// importNames are the names f's imports are known by in f.
func importNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	for _, im := range f.Imports {
		name := strings.Trim(im.Path.Value, `"`)
		name = name[strings.LastIndex(name, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		names[name] = true
	}
	return names
}

func home(path, prefixes string) bool {
	for _, p := range strings.Split(prefixes, ",") {
		if p != "" && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

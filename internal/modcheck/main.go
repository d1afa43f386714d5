// Command modcheck measures what a user of sessionkit pays for each set of
// packages they import: it packs every module of this repository into a
// local module proxy (GOPROXY=file://…, with golang.org/x/mod/zip, as the
// real proxy would serve a release), creates a fresh user module per
// scenario, runs `go mod tidy` against that proxy (third-party modules come
// from the usual proxy), and reports the modules in `go list -m all`, the
// go.sum lines, the bytes downloaded and the go line. It fails when a
// scenario breaks its budget, so that a requirement sneaking into the root
// module is caught by `make test`.
//
// It also checks that goimports resolves the packages whose names differ
// from their directories (redisstore in stores/redisstore, and so on).
//
//	go run . -repo ../..            # from internal/modcheck
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

const (
	rootPath = "github.com/sessionkit/sessionkit"
	version  = "v0.1.0"
	userGo   = "1.25.0" // the oldest Go release sessionkit supports
)

// scenario is one kind of user: the packages they import and what they
// must not pay for.
type scenario struct {
	name      string
	imports   []string // sessionkit packages, relative to rootPath
	forbidden []string // module path prefixes that must not appear in go list -m all
	maxSum    int      // go.sum lines; 0: no limit
	maxBytes  int64    // bytes downloaded into a fresh module cache; 0: no limit
}

var heavy = []string{
	"github.com/gin-gonic/", "github.com/labstack/", "github.com/jackc/",
	"github.com/redis/", "github.com/bradfitz/", "github.com/chromedp/",
	"github.com/go-sql-driver/", "modernc.org/", "go.opentelemetry.io/",
}

func without(prefixes ...string) []string {
	return slices.DeleteFunc(slices.Clone(heavy), func(h string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(h, p) {
				return true
			}
		}
		return false
	})
}

var scenarios = []scenario{
	{"net/http + memory", []string{"core", "adapters/nethttp", "stores/memory"}, heavy, 6, 1536 << 10},
	{"net/http + file + cookie", []string{"core", "adapters/nethttp", "stores/file", "stores/cookie"}, heavy, 6, 1536 << 10},
	{"Gin + memory", []string{"core", "adapters/ginsession", "stores/memory"}, without("github.com/gin-gonic/"), 0, 0},
	{"Echo v4 + memory", []string{"core", "adapters/echosession", "stores/memory"}, without("github.com/labstack/"), 0, 0},
	{"Echo v5 + memory", []string{"core", "adapters/echov5", "stores/memory"}, without("github.com/labstack/"), 0, 0},
	{"net/http + redis", []string{"core", "adapters/nethttp", "stores/redisstore"}, without("github.com/redis/"), 0, 0},
	{"net/http + memcache", []string{"core", "adapters/nethttp", "stores/memcachestore"}, without("github.com/bradfitz/"), 0, 0},
	{"net/http + postgres", []string{"core", "adapters/nethttp", "stores/postgresstore"}, without("github.com/jackc/"), 0, 0},
	{"net/http + mysql", []string{"core", "adapters/nethttp", "stores/mysqlstore"}, without("github.com/go-sql-driver/"), 0, 0},
	{"net/http + sqlite", []string{"core", "adapters/nethttp", "stores/sqlitestore"}, without("modernc.org/"), 0, 0},
	{"net/http + memory + OpenTelemetry", []string{"core", "adapters/nethttp", "stores/memory", "core/otelsession"}, without("go.opentelemetry.io/"), 0, 0},
}

// failed is set by any check that fails; main exits 1 then.
var failed bool

func main() {
	repo := flag.String("repo", "../..", "the repository root")
	work := flag.String("work", "", "scratch directory (default: a new temporary one, removed at exit)")
	measure := flag.Bool("scenarios", true, "measure the user scenarios")
	imports := flag.Bool("goimports", true, "check that goimports resolves every package by its name")
	advisories := flag.Bool("advisories", true, "check every library module's selected requirements against the Go vulnerability database")
	flag.Parse()
	log.SetFlags(0)
	root, err := filepath.Abs(*repo)
	check(err)
	dir := *work
	if dir == "" {
		dir, err = os.MkdirTemp("", "modcheck-")
		check(err)
		defer os.RemoveAll(dir)
	}
	proxy := filepath.Join(dir, "proxy")
	mods := buildProxy(root, proxy)
	defer func() {
		if failed {
			os.Exit(1)
		}
	}()

	if *advisories {
		var dirs []string
		for _, m := range mods {
			dirs = append(dirs, "./"+strings.TrimPrefix(strings.TrimPrefix(m, rootPath), "/"))
		}
		problems, known := checkAdvisories(root, dirs)
		for _, p := range problems {
			failed = true
			log.Printf("modcheck: advisory: %s", p)
		}
		if len(problems) == 0 {
			fmt.Printf("No requirement of a library module has an advisory that a release within its go line fixes (golang.org/x/vulndb@%s).\n", vulndbVersion)
		}
		for _, k := range known {
			fmt.Printf("known: %s\n", k)
		}
		fmt.Println()
	}
	if *measure {
		measureScenarios(root, dir, proxy)
	}
	if !*imports {
		return
	}
	if msg := goimportsCheck(root, dir, proxy, mods); msg != "" {
		failed = true
		log.Print(msg)
	} else {
		fmt.Println("\ngoimports resolves every sessionkit package by its name in a fresh user module.")
	}
}

// measureScenarios runs every user scenario and prints the README's table.
func measureScenarios(root, dir, proxy string) {
	fmt.Printf("| imports | modules in `go list -m all` | go.sum lines | downloaded | go line |\n|---|--:|--:|--:|---|\n")
	for _, sc := range scenarios {
		if !present(root, sc.imports) {
			log.Printf("modcheck: %s: skipped, a module it needs is missing from this checkout", sc.name)
			continue
		}
		r := run(dir, proxy, sc)
		size := "not measured"
		if r.bytes > 0 {
			size = fmt.Sprintf("%.2f MB", float64(r.bytes)/1e6)
		}
		fmt.Printf("| %s | %d | %d | %s | %s |\n", sc.name, len(r.modules), r.sumLines, size, r.goLine)
		for _, p := range r.problems(sc) {
			failed = true
			log.Printf("modcheck: %s: %s", sc.name, p)
		}
	}
}

// buildProxy writes every module under root (except internal tools and
// the benchmarks) into a file proxy at version and returns their paths.
func buildProxy(root, proxy string) []string {
	var mods []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mf, err := modfile.ParseLax(p, data, nil)
		if err != nil {
			return err
		}
		path := mf.Module.Mod.Path
		if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/bench") || strings.HasSuffix(path, "/sessiondemo") {
			return nil
		}
		mods = append(mods, path)
		mv := module.Version{Path: path, Version: version}
		esc, err := module.EscapePath(path)
		if err != nil {
			return err
		}
		vdir := filepath.Join(proxy, esc, "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		zf, err := os.Create(filepath.Join(vdir, version+".zip"))
		if err != nil {
			return err
		}
		if err := zip.CreateFromDir(zf, mv, filepath.Dir(p)); err != nil {
			zf.Close()
			return fmt.Errorf("zip %s: %w", path, err)
		}
		if err := zf.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, version+".mod"), data, 0o644); err != nil {
			return err
		}
		info := fmt.Sprintf(`{"Version":%q,"Time":"2026-12-01T00:00:00Z"}`, version)
		if err := os.WriteFile(filepath.Join(vdir, version+".info"), []byte(info), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(vdir, "list"), []byte(version+"\n"), 0o644)
	})
	check(err)
	return mods
}

// present reports whether every package in pkgs exists in the checkout.
func present(root string, pkgs []string) bool {
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return false
		}
	}
	return true
}

type result struct {
	modules  []string
	sumLines int
	bytes    int64
	goLine   string
}

func (r result) problems(sc scenario) []string {
	var out []string
	for _, m := range r.modules {
		for _, f := range sc.forbidden {
			if strings.HasPrefix(m, f) {
				out = append(out, fmt.Sprintf("go list -m all names %s", m))
			}
		}
	}
	if sc.maxSum > 0 && r.sumLines > sc.maxSum {
		out = append(out, fmt.Sprintf("go.sum has %d lines, want at most %d", r.sumLines, sc.maxSum))
	}
	if sc.maxBytes > 0 && r.bytes > sc.maxBytes {
		out = append(out, fmt.Sprintf("downloaded %d bytes, want at most %d", r.bytes, sc.maxBytes))
	}
	if r.goLine != userGo {
		out = append(out, fmt.Sprintf("go mod tidy changed the user's go line to %s (was %s)", r.goLine, userGo))
	}
	return out
}

// env returns the environment for the go command in a user module: the
// local proxy first, the configured one for everything else, a fresh
// module cache, and no checksum database for the unreleased modules.
// -trimpath keeps the temporary module cache's path out of the build, so
// that the build cache serves the packages built in earlier scenarios and
// runs (they are compiled as the user would, only not again).
func env(proxy, cache string) []string {
	upstream, err := exec.Command("go", "env", "GOPROXY").Output()
	check(err)
	return append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+strings.TrimSpace(string(upstream)),
		"GONOSUMDB="+rootPath, "GOWORK=off",
		"GOMODCACHE="+cache, "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod -modcacherw -trimpath")
}

func run(dir, proxy string, sc scenario) result {
	user, err := os.MkdirTemp(dir, "user-")
	check(err)
	// A scenario with a download budget gets a fresh module cache, so the
	// bytes are what a new user downloads; the others share one.
	cache := filepath.Join(dir, "shared-cache")
	if sc.maxBytes > 0 {
		cache = filepath.Join(user, ".modcache")
	}
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, p := range sc.imports {
		fmt.Fprintf(&src, "\t_ %q\n", rootPath+"/"+p)
	}
	src.WriteString(")\n\nfunc main() {}\n")
	write(filepath.Join(user, "main.go"), src.String())
	write(filepath.Join(user, "go.mod"), "module example.com/user\n\ngo "+userGo+"\n")
	e := env(proxy, cache)
	goCmd(user, e, "mod", "tidy")
	goCmd(user, e, "build", "./...")
	var r result
	for _, l := range strings.Split(strings.TrimSpace(goCmd(user, e, "list", "-m", "all")), "\n")[1:] {
		r.modules = append(r.modules, strings.Fields(l)[0])
	}
	r.sumLines = countLines(filepath.Join(user, "go.sum"))
	if sc.maxBytes > 0 {
		r.bytes = dirSize(filepath.Join(cache, "cache", "download"))
	}
	data, err := os.ReadFile(filepath.Join(user, "go.mod"))
	check(err)
	mf, err := modfile.ParseLax("go.mod", data, nil)
	check(err)
	r.goLine = mf.Go.Version
	return r
}

// goimportsCheck writes a program that names every sessionkit package by
// its package name without importing it and asks goimports to add the
// imports; each must resolve to the right path.
func goimportsCheck(root, dir, proxy string, mods []string) string {
	type use struct{ path, symbol string }
	want := map[string]use{ // package name → import path and an exported name
		"core":          {rootPath + "/core", "New"},
		"nethttp":       {rootPath + "/adapters/nethttp", "Middleware"},
		"memory":        {rootPath + "/stores/memory", "New"},
		"file":          {rootPath + "/stores/file", "New"},
		"cookie":        {rootPath + "/stores/cookie", "New"},
		"conformance":   {rootPath + "/conformance", "TestStore"},
		"ginsession":    {rootPath + "/adapters/ginsession", "Middleware"},
		"echosession":   {rootPath + "/adapters/echosession", "Middleware"}, // v4 or v5: both are echosession
		"redisstore":    {rootPath + "/stores/redisstore", "New"},
		"memcachestore": {rootPath + "/stores/memcachestore", "New"},
		"postgresstore": {rootPath + "/stores/postgresstore", "New"},
		"mysqlstore":    {rootPath + "/stores/mysqlstore", "New"},
		"sqlitestore":   {rootPath + "/stores/sqlitestore", "Open"},
		"otelsession":   {rootPath + "/core/otelsession", "New"},
	}
	user, err := os.MkdirTemp(dir, "goimports-")
	check(err)
	var gomod strings.Builder
	gomod.WriteString("module example.com/user\n\ngo " + userGo + "\n\nrequire (\n")
	for _, m := range mods {
		fmt.Fprintf(&gomod, "\t%s %s\n", m, version)
	}
	gomod.WriteString(")\n")
	write(filepath.Join(user, "go.mod"), gomod.String())
	var src strings.Builder
	src.WriteString("package main\n\nfunc main() {\n")
	var names []string
	for name, u := range want {
		if !present(root, []string{strings.TrimPrefix(u.path, rootPath+"/")}) {
			delete(want, name) // a package this checkout does not have yet
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&src, "\t_ = %s.%s\n", n, want[n].symbol)
	}
	src.WriteString("}\n")
	main := filepath.Join(user, "main.go")
	write(main, src.String())
	e := env(proxy, filepath.Join(dir, "shared-cache"))
	goCmd(user, e, append([]string{"mod", "download"}, mods...)...) // goimports scans the module cache
	out := goCmd(user, e, "run", "golang.org/x/tools/cmd/goimports@v0.52.0", "main.go")
	var problems []string
	for name, u := range want {
		if !strings.Contains(out, `"`+u.path) {
			problems = append(problems, fmt.Sprintf("%s → %s", name, u.path))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return "modcheck: goimports did not resolve: " + strings.Join(problems, ", ") + "\n" + out
	}
	return ""
}

func goCmd(dir string, env []string, args ...string) string {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Fatalf("modcheck: go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func countLines(path string) int {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0
	}
	check(err)
	defer f.Close()
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		n++
	}
	return n
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func write(path, content string) {
	check(os.WriteFile(path, []byte(content), 0o644))
}

func check(err error) {
	if err != nil {
		log.Fatal("modcheck: ", err)
	}
}

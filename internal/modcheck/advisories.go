package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// vulndbVersion pins the copy of the Go vulnerability database
// (golang.org/x/vulndb, fetched through the module proxy like any module)
// that the advisory check reads, so that a run is reproducible; raise it to
// take in newer advisories.
const vulndbVersion = "v0.0.0-20261105234957-e22db6528018"

// osvEntry is the part of an OSV record the check needs.
type osvEntry struct {
	ID        string `json:"id"`
	Summary   string `json:"summary"`
	Withdrawn string `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// advisoryIndex maps a module path to the advisories that name it.
type advisoryIndex map[string][]osvEntry

// loadAdvisories reads every OSV record of the pinned vulnerability
// database from the module cache (downloading it when missing).
func loadAdvisories() (advisoryIndex, error) {
	out, err := exec.Command("go", "mod", "download", "-json", "golang.org/x/vulndb@"+vulndbVersion).Output()
	if err != nil {
		return nil, fmt.Errorf("download golang.org/x/vulndb: %w", err)
	}
	var dl struct{ Dir string }
	if err := json.Unmarshal(out, &dl); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dl.Dir, "data", "osv", "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no OSV records in %s (%v)", dl.Dir, err)
	}
	idx := advisoryIndex{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var e osvEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if e.Withdrawn != "" {
			continue
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if name := a.Package.Name; !seen[name] {
				seen[name] = true
				idx[name] = append(idx[name], e)
			}
		}
	}
	return idx, nil
}

// hit is an advisory that affects a version, and the first version that
// fixes it ("" when none does).
type hit struct {
	osvEntry
	fixed string
}

// affecting returns the advisories that affect module path at version.
func (idx advisoryIndex) affecting(path, version string) []hit {
	var hits []hit
	for _, e := range idx[path] {
		for _, a := range e.Affected {
			if a.Package.Name != path {
				continue
			}
			if in, fixed := affects(a.Ranges, version); in {
				hits = append(hits, hit{e, fixed})
				break
			}
		}
	}
	return hits
}

// affects reports whether version lies in one of the SEMVER ranges (each a
// list of introduced/fixed events in order) and the version that fixes it.
func affects(ranges []struct {
	Type   string              `json:"type"`
	Events []map[string]string `json:"events"`
}, version string) (bool, string) {
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		in, fixed := false, ""
		for _, ev := range r.Events {
			if v, ok := ev["introduced"]; ok && !in && (v == "0" || semver.Compare(version, "v"+v) >= 0) {
				in, fixed = true, ""
			}
			if v, ok := ev["fixed"]; ok && in {
				if semver.Compare(version, "v"+v) >= 0 {
					in = false
				} else if fixed == "" {
					fixed = "v" + v
				}
			}
		}
		if in {
			return true, fixed
		}
	}
	return false, ""
}

// firstRelease returns the first tagged release of path at or after
// version (a fix may be recorded as a pseudo-version) and its go line, or
// "" when there is none yet.
func firstRelease(path, version string) (release, goLine string, err error) {
	out, err := exec.Command("go", "list", "-m", "-versions", path).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m -versions %s: %w", path, err)
	}
	for _, v := range strings.Fields(string(out))[1:] {
		if semver.Compare(v, version) >= 0 {
			goLine, err := goLineOf(path, v)
			return v, goLine, err
		}
	}
	return "", "", nil
}

// goLineOf returns the go line of module path at version, from the proxy.
func goLineOf(path, version string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", path+"@"+version).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", path, version, err)
	}
	var dl struct{ GoMod string }
	if err := json.Unmarshal(out, &dl); err != nil {
		return "", err
	}
	data, err := os.ReadFile(dl.GoMod)
	if err != nil {
		return "", err
	}
	mf, err := modfile.ParseLax(dl.GoMod, data, nil)
	if err != nil || mf.Go == nil {
		return "", err
	}
	return mf.Go.Version, nil
}

// checkAdvisories checks every requirement in the go.mod of each library
// module (what scanners read, and the least its users get) against the
// published advisories. An advisory is a problem when a release that fixes
// it works with the module's go line; one whose fix needs a newer Go than
// the module supports (or that has no fix) is a known advisory, listed so
// that the README can name it.
func checkAdvisories(root string, dirs []string) (problems, known []string) {
	idx, err := loadAdvisories()
	check(err)
	for _, dir := range dirs {
		path := filepath.Join(root, dir, "go.mod")
		data, err := os.ReadFile(path)
		check(err)
		mf, err := modfile.ParseLax(path, data, nil)
		check(err)
		for _, r := range mf.Require {
			if strings.HasPrefix(r.Mod.Path, rootPath) { // our own modules, replaced by the checkout
				continue
			}
			for _, h := range idx.affecting(r.Mod.Path, r.Mod.Version) {
				what := fmt.Sprintf("%s requires %s %s: %s %s", dir, r.Mod.Path, r.Mod.Version, h.ID, h.Summary)
				if h.fixed == "" {
					known = append(known, what+" (no fixed release)")
					continue
				}
				fixed, goLine, err := firstRelease(r.Mod.Path, h.fixed)
				if err != nil {
					problems = append(problems, what+": "+err.Error())
					continue
				}
				if fixed == "" {
					known = append(known, fmt.Sprintf("%s (fixed in %s, not released)", what, h.fixed))
					continue
				}
				if gover(goLine) > gover(mf.Go.Version) {
					known = append(known, fmt.Sprintf("%s (fixed in %s, which requires go %s)", what, fixed, goLine))
					continue
				}
				problems = append(problems, fmt.Sprintf("%s (fixed in %s, go %s: require it)", what, fixed, goLine))
			}
		}
	}
	return problems, known
}

// gover makes a go line comparable as a semantic version ("1.25" and
// "1.25.0" compare equal).
func gover(v string) string {
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return semver.Canonical("v" + v)
}

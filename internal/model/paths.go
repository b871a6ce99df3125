package model

import (
	"fmt"
	"slices"
	"strings"
)

// TestPath is the engine path of the built-in test pattern. A transmission
// whose path is "test" takes the path over from the pattern.
const TestPath = "test"

// EnabledOutputs returns the outputs that are switched on, in order.
func (t *Transmission) EnabledOutputs() []*Output {
	var out []*Output
	for i := range t.Outputs {
		if t.Outputs[i].Enabled {
			out = append(out, &t.Outputs[i])
		}
	}
	return out
}

// OutputPath resolves the engine path an output is published and read at:
// its pinned path (output.path) when set; the transmission path when it is
// the only enabled output; otherwise "{path}-{output id}", so every output
// of a multi-output transmission has its own stable URL. This is the one
// place the rule lives: the UI asks the API (urls/preview) instead of
// repeating it.
func (t *Transmission) OutputPath(o *Output) string {
	if o.Path != "" {
		return o.Path
	}
	if len(t.EnabledOutputs()) <= 1 {
		return t.Path
	}
	return Slug(t.Path+"-"+o.ID, t.Path)
}

// EnginePaths is every engine path the transmission claims: its own path and
// the resolved path of each enabled output.
func (t *Transmission) EnginePaths() []string {
	var paths []string
	for _, c := range t.pathClaims() {
		paths = append(paths, c.path)
	}
	return paths
}

// pathClaim is an engine path the transmission claims and the field (loc
// inside the transmission) that makes it claim it.
type pathClaim struct {
	path string
	loc  []any
}

// pathClaims is EnginePaths with the field behind each path, the first
// field for a path claimed twice.
func (t *Transmission) pathClaims() []pathClaim {
	claims := []pathClaim{{t.Path, []any{"path"}}}
	for k := range t.Outputs {
		o := &t.Outputs[k]
		if !o.Enabled {
			continue
		}
		p := t.OutputPath(o)
		if !slices.ContainsFunc(claims, func(c pathClaim) bool { return c.path == p }) {
			claims = append(claims, pathClaim{p, outputPathLoc(k, o)})
		}
	}
	return claims
}

// outputPathLoc is the field that decides output k's engine path: its pin
// when set, else its id (the path is "{path}-{id}").
func outputPathLoc(k int, o *Output) []any {
	if o.Path != "" {
		return []any{"outputs", k, "path"}
	}
	return []any{"outputs", k, "id"}
}

// CheckEnginePath says why an engine cannot serve a path name, or nil.
// MediaMTX reserves "all", "all_others" and names starting with "~"
// (regular expressions) and accepts only ASCII letters, digits and "_-.~/";
// the embedded engine keeps the same rule so a configuration works on both.
func CheckEnginePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("engine path is empty")
	case p == "all" || p == "all_others":
		return fmt.Errorf("engine path %q is reserved by the engine; choose another path", p)
	case strings.HasPrefix(p, "~"):
		return fmt.Errorf("engine path %q starts with '~', which engines read as a regular expression", p)
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.~/", r)
		if !ok {
			return fmt.Errorf("engine path %q contains %q: use only ASCII letters, digits, '-' and '_'", p, r)
		}
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("engine path %q cannot begin or end with '/'", p)
	}
	return nil
}

// checkEnginePaths records an error for every path of t an engine cannot
// serve, at the field that produced it.
func (t *Transmission) checkEnginePaths(r reader) {
	if err := CheckEnginePath(t.Path); err != nil {
		r.at("path").fail("value_error", "%v", err)
	}
	for i := range t.Outputs {
		o := &t.Outputs[i]
		if !o.Enabled {
			continue // claims no path
		}
		p := t.OutputPath(o)
		if p == t.Path {
			continue // reported above
		}
		if err := CheckEnginePath(p); err != nil {
			field := outputPathLoc(i, o)
			r.at("outputs").at(i).at(field[len(field)-1]).fail("value_error", "%v", err)
		}
	}
}

// Label names the transmission in messages: its name, else its path (ids
// are generated and mean nothing to the user).
func (t *Transmission) Label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Path
}

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
// its "path" extra when set; the transmission path when it is the only
// enabled output; otherwise "{path}-{output id}", so every output of a
// multi-output transmission has its own stable URL.
func (t *Transmission) OutputPath(o *Output) string {
	if p := o.PathOverride(); p != "" {
		return p
	}
	if len(t.EnabledOutputs()) <= 1 {
		return t.Path
	}
	return Slug(t.Path+"-"+o.ID, t.Path)
}

// EnginePaths is every engine path the transmission claims: its own path and
// the resolved path of each enabled output.
func (t *Transmission) EnginePaths() []string {
	paths := []string{t.Path}
	for _, o := range t.EnabledOutputs() {
		if p := t.OutputPath(o); !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	return paths
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
			continue
		}
		p := t.OutputPath(o)
		if p == t.Path {
			continue // reported above
		}
		if err := CheckEnginePath(p); err != nil {
			loc := r.at("outputs").at(i)
			if o.PathOverride() != "" {
				loc = loc.at("path")
			} else {
				loc = loc.at("id")
			}
			loc.fail("value_error", "%v", err)
		}
	}
}

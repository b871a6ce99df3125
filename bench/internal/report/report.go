// Package report pools benchmark samples per side (an engine kind, our
// path or the reference), prints them as a Markdown table of min / median /
// max and the ratio of the medians, and replaces a section of
// BENCHMARKS.md. It is the pure logic the bench harnesses share.
package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Metric is one row: its samples per side.
type Metric struct {
	Name    string               `json:"name"`
	Unit    string               `json:"unit"`
	Target  string               `json:"target,omitempty"`
	Samples map[string][]float64 `json:"samples"`
}

// Table is the metrics of one benchmark in the order they were first added.
// With two sides the ratio column is Sides[0] / Sides[1].
type Table struct {
	Sides   []string  `json:"sides"`
	Metrics []*Metric `json:"metrics"`
	cursor  int       // index after the metric last added to
}

// New is an empty table over sides.
func New(sides ...string) *Table { return &Table{Sides: sides} }

// Add appends samples of side to the metric name. A metric not seen before
// goes right after the one added to last, so that a metric only one side
// has sits beside the ones it follows in that side's run.
func (t *Table) Add(side, name, unit, target string, v ...float64) {
	i := slices.IndexFunc(t.Metrics, func(m *Metric) bool { return m.Name == name })
	if i < 0 {
		i = min(t.cursor, len(t.Metrics))
		t.Metrics = slices.Insert(t.Metrics, i, &Metric{Name: name, Unit: unit, Target: target, Samples: map[string][]float64{}})
	}
	m := t.Metrics[i]
	m.Samples[side] = append(m.Samples[side], v...)
	t.cursor = i + 1
}

// Merge adds every sample of o, its sides renamed by rename (a side not
// in rename keeps its name).
func (t *Table) Merge(o *Table, rename map[string]string) {
	for _, m := range o.Metrics {
		for _, side := range o.Sides {
			if v, ok := m.Samples[side]; ok {
				t.Add(cmp.Or(rename[side], side), m.Name, m.Unit, m.Target, v...)
			}
		}
	}
}

// Median of v, NaN when v is empty.
func Median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile is the nearest-rank p-th percentile of v, NaN when v is empty.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(v))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Num formats v for unit: counts and large values without decimals, the
// rest with 1 or 2.
func Num(unit string, v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case unit == "count" || a >= 100 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Summary is "median unit (min–max, n=…)", for progress logs.
func Summary(unit string, v []float64) string {
	if len(v) == 0 {
		return "n/a"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	return fmt.Sprintf("%s %s (%s–%s, n=%d)", Num(unit, Median(v)), unit, Num(unit, lo), Num(unit, hi), len(v))
}

// cell is "min / median / max (n)" of samples v.
func cell(unit string, v []float64) string {
	switch len(v) {
	case 0:
		return "–"
	case 1:
		return Num(unit, v[0]) + " (1)"
	}
	return fmt.Sprintf("%s / %s / %s (%d)", Num(unit, slices.Min(v)), Num(unit, Median(v)), Num(unit, slices.Max(v)), len(v))
}

// Markdown is the table: metric, unit, one min / median / max (samples)
// column per side, with two sides the ratio of the medians, and the target
// column when any metric has one.
func (t *Table) Markdown() string {
	header := append([]string{"metric", "unit"}, t.Sides...)
	two := len(t.Sides) == 2
	if two {
		header = append(header, t.Sides[0]+" / "+t.Sides[1]+" (medians)")
	}
	targets := slices.ContainsFunc(t.Metrics, func(m *Metric) bool { return m.Target != "" })
	if targets {
		header = append(header, "target")
	}
	rows := [][]string{header}
	for _, m := range t.Metrics {
		row := []string{m.Name, m.Unit}
		for _, s := range t.Sides {
			row = append(row, cell(m.Unit, m.Samples[s]))
		}
		if two {
			row = append(row, ratio(m.Samples[t.Sides[0]], m.Samples[t.Sides[1]]))
		}
		if targets {
			row = append(row, m.Target)
		}
		rows = append(rows, row)
	}
	return markdown(rows)
}

// ratio is median(a) / median(b) with 2 decimals, "–" when undefined.
func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 {
		return "–"
	}
	ma, mb := Median(a), Median(b)
	if mb == 0 {
		return "–"
	}
	return strconv.FormatFloat(ma/mb, 'f', 2, 64)
}

// markdown renders rows (the first is the header) as an aligned table.
func markdown(rows [][]string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var sb strings.Builder
	for n, r := range rows {
		for i, c := range r {
			fmt.Fprintf(&sb, "| %s%s ", c, strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
		sb.WriteString("|\n")
		if n == 0 {
			for _, w := range widths {
				sb.WriteString("|" + strings.Repeat("-", w+2))
			}
			sb.WriteString("|\n")
		}
	}
	return sb.String()
}

// ReplaceSection returns doc with the section that starts at the line
// heading (e.g. "## make bench") replaced by body, which must start with
// that heading. The section ends before the next heading of the same or a
// higher level; without one it runs to the end. A doc without the section
// gets it appended.
func ReplaceSection(doc, heading, body string) string {
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	body = strings.TrimRight(body, "\n") + "\n"
	lines := strings.SplitAfter(doc, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimRight(l, "\r\n") == heading })
	if start < 0 {
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if doc != "" {
			doc += "\n"
		}
		return doc + body
	}
	end := len(lines)
	fence := false
	for i := start + 1; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r\n")
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && isHeading(l, level) {
			end = i
			break
		}
	}
	rest := strings.Join(lines[end:], "")
	if rest != "" {
		body += "\n"
	}
	return strings.Join(lines[:start], "") + body + rest
}

// isHeading says whether l is a Markdown heading of level <= level.
func isHeading(l string, level int) bool {
	n := len(l) - len(strings.TrimLeft(l, "#"))
	return n >= 1 && n <= level && len(l) > n && l[n] == ' '
}

package report

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestMedianPercentile(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Percentile(nil, 50)) {
		t.Error("empty input must give NaN")
	}
	v := []float64{}
	for i := 1; i <= 100; i++ {
		v = append(v, float64(101-i))
	}
	if p := Percentile(v, 95); p != 95 {
		t.Errorf("p95 of 1..100 = %v", p)
	}
	if p := Percentile(v, 50); p != 50 {
		t.Errorf("p50 of 1..100 = %v", p)
	}
}

func TestTableCellsAndRatio(t *testing.T) {
	tb := New("ours", "mediamtx")
	tb.Add("ours", "latency", "ms", "<= 2x", 100, 300, 200)
	tb.Add("mediamtx", "latency", "ms", "", 100)
	tb.Add("mediamtx", "only theirs", "ms", "")
	md := tb.Markdown()
	for _, want := range []string{
		"| metric ", "ours / mediamtx (medians)", "target",
		"100 / 200 / 300 (3)", "100 (1)", "| 2.00 ", "<= 2x",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header, rule and 2 rows, got:\n%s", md)
	}
	if !strings.Contains(lines[3], "only theirs") || !strings.Contains(lines[3], "| –") {
		t.Errorf("a metric without samples must show dashes: %q", lines[3])
	}
}

func TestAddKeepsRunOrder(t *testing.T) {
	tb := New("a", "b")
	tb.Add("a", "first", "ms", "", 1)
	tb.Add("a", "third", "ms", "", 1)
	// b has a metric a lacks, right after "first" in its run
	tb.Add("b", "first", "ms", "", 1)
	tb.Add("b", "second", "ms", "", 1)
	tb.Add("b", "third", "ms", "", 1)
	var names []string
	for _, m := range tb.Metrics {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "first,second,third" {
		t.Errorf("order %s", got)
	}
}

func TestMergeRenamesAndRoundTripsJSON(t *testing.T) {
	src := New("embedded", "mediamtx")
	src.Add("embedded", "join", "ms", "", 2, 3)
	src.Add("mediamtx", "join", "ms", "", 400)
	raw, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	dst := New("ours", "mediamtx")
	dst.Add("ours", "join", "ms", "", 1)
	dst.Merge(&back, map[string]string{"embedded": "ours"})
	m := dst.Metrics[0]
	if len(dst.Metrics) != 1 || len(m.Samples["ours"]) != 3 || len(m.Samples["mediamtx"]) != 1 || len(m.Samples["embedded"]) != 0 {
		t.Errorf("merged %+v", m.Samples)
	}
}

func TestNum(t *testing.T) {
	for _, c := range []struct {
		unit string
		v    float64
		want string
	}{{"count", 2.6, "3"}, {"ms", 123.4, "123"}, {"ms", 12.34, "12.3"}, {"ms", 0.123, "0.12"}, {"ms", 0, "0"}, {"ms", math.NaN(), "–"}} {
		if got := Num(c.unit, c.v); got != c.want {
			t.Errorf("Num(%q, %v) = %q, want %q", c.unit, c.v, got, c.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n\n## make bench\n\nold table\n### sub\nold sub\n\n## Later\n\nkept\n"
	got := ReplaceSection(doc, "## make bench", "## make bench\n\nnew table\n")
	want := "# Benchmarks\n\nintro\n\n## make bench\n\nnew table\n\n## Later\n\nkept\n"
	if got != want {
		t.Errorf("replace:\n%q\nwant\n%q", got, want)
	}
	if again := ReplaceSection(got, "## make bench", "## make bench\n\nnew table\n"); again != got {
		t.Errorf("replacing twice changed the doc:\n%q", again)
	}
	// a heading-like line inside a code fence does not end the section
	fenced := "## make bench\n\n```sh\n# not a heading\n## nor this\n```\nold\n# Next\n"
	if got := ReplaceSection(fenced, "## make bench", "## make bench\nx"); got != "## make bench\nx\n\n# Next\n" {
		t.Errorf("fenced: %q", got)
	}
	// missing: appended after a blank line
	if got := ReplaceSection("# B\ntext", "## make bench", "## make bench\nx\n"); got != "# B\ntext\n\n## make bench\nx\n" {
		t.Errorf("append: %q", got)
	}
	// last section of the doc
	if got := ReplaceSection("# B\n## make bench\nold\n", "## make bench", "## make bench\nnew"); got != "# B\n## make bench\nnew\n" {
		t.Errorf("last: %q", got)
	}
}

package model

import (
	"strings"
	"testing"
	"unicode"
)

func TestSlug(t *testing.T) {
	cases := []struct {
		in, fallback, want string
	}{
		{"  Hello @World  ", "x", "hello--world"},
		{"!!!", "stream-1", "stream-1"},
		{"", "id-1", "id-1"},
		{"Front Door", "x", "front-door"},
		{"front-door", "x", "front-door"},
		{"__a_b__", "x", "a_b"},
		{"-a-", "x", "a"},
		{"A/B.C", "x", "a-b-c"},
		{"Câmera Frente", "x", "câmera-frente"},
		{"cam 2", "x", "cam-2"},
		{"  ", "fb", "fb"},
		{"---", "fb", "fb"},
	}
	for _, c := range cases {
		if got := Slug(c.in, c.fallback); got != c.want {
			t.Errorf("Slug(%q, %q) = %q, want %q", c.in, c.fallback, got, c.want)
		}
	}
}

func FuzzSlug(f *testing.F) {
	for _, s := range []string{"  Hello @World  ", "!!!", "Câmera", "a\x00b", "\xff", "ＡＢＣ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Slug(in, "fallback-value")
		if out == "fallback-value" {
			return
		}
		for _, r := range out {
			if !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_') {
				t.Fatalf("Slug(%q) = %q holds %q", in, out, r)
			}
		}
		if strings.Trim(out, "-_") != out {
			t.Fatalf("Slug(%q) = %q is not trimmed", in, out)
		}
		if again := Slug(out, "fallback-value"); again != out {
			t.Fatalf("Slug is not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

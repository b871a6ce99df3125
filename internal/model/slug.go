package model

import (
	"strings"
	"unicode"
)

// Slug normalises a user-supplied path the way the original extension does:
// trimmed and lower-cased, every rune that is not a letter, a digit, '-' or '_'
// becomes '-' (runs are not collapsed), leading and trailing '-' and '_' are
// stripped, and an empty result yields fallback.
//
// "  Hello @World  " -> "hello--world"; "!!!" -> fallback.
func Slug(s, fallback string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-_")
	if out == "" {
		return fallback
	}
	return out
}

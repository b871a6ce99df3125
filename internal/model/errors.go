package model

import (
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem with one field of a request body. Its JSON shape is
// FastAPI's (`{"loc": [...], "msg": ..., "type": ...}`), which clients of the
// original extension already parse.
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// ValidationError lists every field problem found in one document. The API
// answers it with 422.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, fe := range e.Errors {
		parts = append(parts, fmt.Sprintf("%s: %s", formatLoc(fe.Loc), fe.Msg))
	}
	return strings.Join(parts, "; ")
}

func formatLoc(loc []any) string {
	var b strings.Builder
	for i, p := range loc {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// ConflictError says that a whole-settings uniqueness rule is broken (duplicate
// transmission id, path on a host, output id, or engine path). The API answers
// it with 409.
//
// Loc is the field that broke the rule (the later one in document order)
// and With the earlier field it collides with, nil when there is none; both
// are relative to the document checked. The API answers one of them, the
// one inside the request body, as the error's "loc", so that a client
// places the error without reading the message (see At).
type ConflictError struct {
	Msg       string
	Loc, With []any
}

func (e *ConflictError) Error() string { return e.Msg }

// under is e with both locations prefixed, for a document checked as a
// part of a larger one.
func (e *ConflictError) under(prefix []any) *ConflictError {
	if len(prefix) == 0 {
		return e
	}
	out := &ConflictError{Msg: e.Msg}
	if e.Loc != nil {
		out.Loc = append(slices.Clone(prefix), e.Loc...)
	}
	if e.With != nil {
		out.With = append(slices.Clone(prefix), e.With...)
	}
	return out
}

// At is the location of the side of the conflict inside part (a location
// prefix of the checked document), with part cut off; ok is false when
// neither side lies there.
func (e *ConflictError) At(part ...any) (rest []any, ok bool) {
	for _, side := range [][]any{e.Loc, e.With} {
		if len(side) >= len(part) && slices.Equal(side[:len(part)], part) {
			return slices.Clone(side[len(part):]), true
		}
	}
	return nil, false
}

package model

import (
	"fmt"
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
type ConflictError struct {
	Msg string
}

func (e *ConflictError) Error() string { return e.Msg }

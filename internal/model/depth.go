package model

import "fmt"

// MaxJSONDepth is how deeply objects and arrays may nest in a document the
// API accepts. Ours nest 5 deep; the cap keeps a hostile body (an unknown
// member nested thousands deep, kept as an extra) from costing time and
// memory on every later write.
const MaxJSONDepth = 64

// CheckJSONDepth refuses raw when its objects and arrays nest deeper than
// max, with a 422-shaped error at loc. It scans the bytes once and does
// not parse.
func CheckJSONDepth(raw []byte, max int, loc ...any) error {
	depth, inString, escaped := 0, false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return &ValidationError{Errors: []FieldError{{Loc: loc, Type: "value_error",
					Msg: fmt.Sprintf("JSON is nested deeper than %d levels", max)}}}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

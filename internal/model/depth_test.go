package model

import (
	"strings"
	"testing"
)

func TestCheckJSONDepth(t *testing.T) {
	nested := func(n int) string { return strings.Repeat(`{"a":[`, n) + strings.Repeat(`]}`, n) }
	for _, c := range []struct {
		name string
		raw  string
		ok   bool
	}{
		{"flat", `{"name":"x","outputs":[{"id":"a"}]}`, true},
		{"at the limit", nested(32), true}, // 64 levels
		{"one past", `[` + nested(32) + `]`, false},
		{"brackets in strings do not count", `{"s":"` + strings.Repeat("[{", 1000) + `"}`, true},
		{"escaped quote keeps the string open", `{"s":"\"` + strings.Repeat("[", 100) + `"}`, true},
		{"10,000 deep", nested(5000), false},
	} {
		err := CheckJSONDepth([]byte(c.raw), MaxJSONDepth, "body")
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "deeper than 64") {
			t.Errorf("%s: error %q does not name the limit", c.name, err)
		}
	}
}

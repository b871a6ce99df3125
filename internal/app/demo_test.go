package app

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Issue 13: with ffmpeg missing the service still printed "Demo is live".
// It says what is wrong and what to do instead.
func TestDemoSaysWhenNoVideoCanBeMade(t *testing.T) {
	var out bytes.Buffer
	printDemo(&out, nil, nil, "http://127.0.0.1:8100", errors.New(`ffmpeg: exec: "ffmpeg": executable file not found in $PATH`))
	if s := out.String(); strings.Contains(s, "Demo is live") || !strings.Contains(s, "no video can be made") || !strings.Contains(s, "apt install ffmpeg") {
		t.Errorf("demo output:\n%s", s)
	}
}

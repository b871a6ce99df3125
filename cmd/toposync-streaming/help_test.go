package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every environment variable the service's code names is in --help; only
// the test suite's own (TOPOSYNC_TEST_*) are left out.
func TestHelpListsEveryVariable(t *testing.T) {
	literal := regexp.MustCompile(`"(TOPOSYNC_[A-Z0-9_]+)"`)
	var listed []string
	for _, v := range variables {
		listed = append(listed, v.Name)
	}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasPrefix(m[1], "TOPOSYNC_TEST_") && !slices.Contains(listed, m[1]) {
				t.Errorf("%s reads %s, which --help does not list", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --help exits 0 with every flag and variable on stdout; a wrong flag is
// still an error (2) on stderr.
func TestServeHelp(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"--help"}} {
		var out, errOut bytes.Buffer
		if code := run(args, func(string) string { return "" }, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d, stderr %s", args, code, errOut.String())
		}
		for _, want := range []string{"TOPOSYNC_STREAMING_API_TOKEN", "TOPOSYNC_STREAMING_TLS_CERT_FILE"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: help lacks %s:\n%s", args, want, out.String())
			}
		}
		if args[0] == "serve" && !strings.Contains(out.String(), "-log-format") {
			t.Errorf("%v: help lacks the flags:\n%s", args, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--no-such-flag"}, func(string) string { return "" }, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "no-such-flag") {
		t.Errorf("a wrong flag: exit %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"serve", "--log-format", "xml"}, func(string) string { return "" }, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "text or json") {
		t.Errorf("a wrong log format: exit %d, stderr %q", code, errOut.String())
	}
}

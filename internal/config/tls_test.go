package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

func TestLoadTLS(t *testing.T) {
	good := testutil.SelfSignedCert(t)
	other := testutil.SelfSignedCert(t)
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "unreadable.pem") // a directory: unreadable as a file, even for root
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if tl, err := LoadTLS(env(nil)); tl != nil || err != nil {
		t.Errorf("neither set: %v, %v; want no TLS and no error", tl, err)
	}
	tl, err := LoadTLS(env(map[string]string{EnvTLSCertFile: good.CertFile, EnvTLSKeyFile: good.KeyFile}))
	if err != nil {
		t.Fatal(err)
	}
	if tl.CertFile != good.CertFile || tl.KeyFile != good.KeyFile || tl.Certificate.Leaf == nil {
		t.Errorf("loaded %+v", tl)
	}
	if w := tl.Warning(time.Now()); w != "" {
		t.Errorf("valid certificate warned: %s", w)
	}
	if w := tl.Warning(time.Now().Add(48 * time.Hour)); !strings.Contains(w, "expired") || !strings.Contains(w, good.CertFile) {
		t.Errorf("expired certificate: %q", w)
	}
	if cfg := tl.ServerConfig(); len(cfg.Certificates) != 1 || cfg == tl.ServerConfig() {
		t.Error("ServerConfig must be a new config holding the certificate")
	}

	cases := []struct {
		name      string
		cert, key string
		wantInErr []string
	}{
		{"certificate alone", good.CertFile, "", []string{EnvTLSCertFile + " is set but " + EnvTLSKeyFile + " is not"}},
		{"key alone", "", good.KeyFile, []string{EnvTLSKeyFile + " is set but " + EnvTLSCertFile + " is not"}},
		{"missing certificate", filepath.Join(dir, "none.pem"), good.KeyFile, []string{"TLS certificate", EnvTLSCertFile, "none.pem", "no such file"}},
		{"unreadable key", good.CertFile, unreadable, []string{"TLS key", EnvTLSKeyFile, "unreadable.pem", "is a directory"}},
		{"swapped files", good.KeyFile, good.CertFile, []string{good.KeyFile, "no PEM CERTIFICATE block", "swapped"}},
		{"corrupt certificate", garbage, good.KeyFile, []string{garbage, EnvTLSCertFile}},
		{"key of another certificate", good.CertFile, other.KeyFile, []string{other.KeyFile, "does not match", good.CertFile}},
	}
	for _, c := range cases {
		tl, err := LoadTLS(env(map[string]string{EnvTLSCertFile: c.cert, EnvTLSKeyFile: c.key}))
		if err == nil || tl != nil {
			t.Errorf("%s: loaded (%v)", c.name, tl)
			continue
		}
		for _, w := range c.wantInErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
}

// Relative paths become absolute: MediaMTX reads the files from its own
// working directory.
func TestLoadTLSRelativePaths(t *testing.T) {
	c := testutil.SelfSignedCert(t)
	t.Chdir(filepath.Dir(c.CertFile))
	tl, err := LoadTLS(env(map[string]string{EnvTLSCertFile: "cert.pem", EnvTLSKeyFile: "./key.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	if tl.CertFile != c.CertFile || tl.KeyFile != c.KeyFile {
		t.Errorf("files %s, %s; want %s, %s", tl.CertFile, tl.KeyFile, c.CertFile, c.KeyFile)
	}
}

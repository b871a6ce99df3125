package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The certificate and key (PEM files) that turn TLS on: the API and UI,
// HLS and WHEP serve HTTPS and RTSP serves RTSPS. Both or neither.
const (
	EnvTLSCertFile = "TOPOSYNC_STREAMING_TLS_CERT_FILE"
	EnvTLSKeyFile  = "TOPOSYNC_STREAMING_TLS_KEY_FILE"
)

// TLS is the certificate the service serves HTTPS and RTSPS with, read
// once at startup.
type TLS struct {
	// CertFile and KeyFile are absolute paths: MediaMTX reads the files
	// itself, from its own working directory.
	CertFile, KeyFile string
	Certificate       tls.Certificate // Leaf is set
}

// LoadTLS reads and checks the certificate and key the environment names:
// nil when neither is set, an error naming the variable or the file (and
// why) when only one is set, a file cannot be read, holds no certificate,
// or the key is not the certificate's.
func LoadTLS(getenv func(string) string) (*TLS, error) {
	certFile := strings.TrimSpace(getenv(EnvTLSCertFile))
	keyFile := strings.TrimSpace(getenv(EnvTLSKeyFile))
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		set, unset := EnvTLSCertFile, EnvTLSKeyFile
		if certFile == "" {
			set, unset = unset, set
		}
		return nil, fmt.Errorf("%s is set but %s is not: set both (a PEM certificate and its key) to serve HTTPS and RTSPS, or neither", set, unset)
	}
	var err error
	if certFile, err = filepath.Abs(ExpandHome(certFile)); err != nil {
		return nil, err
	}
	if keyFile, err = filepath.Abs(ExpandHome(keyFile)); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate (%s): %w", EnvTLSCertFile, err)
	}
	if err := checkCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("TLS certificate %s (%s): %w", certFile, EnvTLSCertFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key (%s): %w", EnvTLSKeyFile, err)
	}
	// The certificate parsed above, so what X509KeyPair refuses is the key.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS key %s (%s): %w (it must be the PEM private key of the certificate in %s)", keyFile, EnvTLSKeyFile, err, certFile)
	}
	return &TLS{CertFile: certFile, KeyFile: keyFile, Certificate: cert}, nil
}

// checkCertificates parses every CERTIFICATE block of a PEM file (the
// server's certificate first, then its chain), and requires one.
func checkCertificates(data []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM CERTIFICATE block in it (are the certificate and the key swapped?)")
	}
	return nil
}

// ServerConfig is a new TLS server configuration with the certificate:
// one per server, since servers change theirs (HTTP/2 adds itself).
func (t *TLS) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{t.Certificate}, MinVersion: tls.VersionTLS12}
}

// Warning says why clients will refuse the certificate at now (expired,
// not yet valid), or is empty.
func (t *TLS) Warning(now time.Time) string {
	leaf := t.Certificate.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Sprintf("the TLS certificate %s expired on %s: clients will refuse it; renew it and restart the service", t.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Sprintf("the TLS certificate %s is valid only from %s: clients will refuse it until then", t.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

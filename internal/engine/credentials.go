package engine

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// SecretFile is the publish secret inside the runtime dir.
const SecretFile = "publish-secret.key"

const secretSize = 32

// LoadOrCreateSecret reads the publish secret from dir, creating it (32
// random bytes, mode 0600) when it is missing or empty.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	secret, err := os.ReadFile(path)
	if err == nil && len(secret) > 0 {
		return secret, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read publish secret %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	secret = make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("write publish secret %s: %w", path, err)
	}
	return secret, nil
}

// PublishCredentials derives the credentials that may publish into path:
// h = hex(HMAC-SHA256(secret, path)), user "pub_"+h[0:12], password h[12:44].
func PublishCredentials(secret []byte, path string) (user, pass string) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(path))
	h := hex.EncodeToString(mac.Sum(nil))
	return "pub_" + h[:12], h[12:44]
}

// Package apikey makes, hashes and seals project keys. A key is 32 random
// bytes written as 64 hex digits. The store keeps its SHA-256 hash, used to
// authenticate (constant-time compare), and a copy sealed with the server's
// secret (AES-256-GCM), so that an administrator can list the keys the way
// Azure's listKeys does. A key is never logged.
package apikey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Slot names one of a project's two keys.
type Slot int

// The two slots.
const (
	Key1 Slot = 1
	Key2 Slot = 2
)

// ParseSlot reads "key1"/"key2" (any case, as Azure's keyName Key1/Key2).
func ParseSlot(s string) (Slot, error) {
	switch s {
	case "key1", "Key1", "KEY1", "1":
		return Key1, nil
	case "key2", "Key2", "KEY2", "2":
		return Key2, nil
	}
	return 0, fmt.Errorf("unknown key %q: want key1 or key2", s)
}

func (s Slot) String() string { return fmt.Sprintf("key%d", int(s)) }

// Hash is the SHA-256 of a key.
type Hash [sha256.Size]byte

// Key is a stored key.
type Key struct {
	Project   string
	Slot      Slot
	Hash      Hash
	Sealed    []byte // the key sealed with the server secret
	CreatedAt time.Time
}

// Generate returns a new random key.
func Generate() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("apikey: random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Sum hashes a key.
func Sum(key string) Hash { return sha256.Sum256([]byte(key)) }

// Equal compares two hashes in constant time.
func Equal(a, b Hash) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// ID is a short, non-secret label of a key for logs and usage records:
// the first 8 hex digits of its hash.
func (h Hash) ID() string { return hex.EncodeToString(h[:4]) }

// Sealer seals and opens keys with a 32-byte server secret.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a sealer for a 32-byte secret.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) != 32 {
		return nil, fmt.Errorf("apikey: secret must be 32 bytes, got %d", len(secret))
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts a key; the result carries its random nonce.
func (s *Sealer) Seal(key string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(key)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("apikey: random: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(key), nil), nil
}

// Open decrypts a sealed key.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("apikey: sealed key too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("apikey: open sealed key (wrong server secret?): %w", err)
	}
	return string(plain), nil
}

// New makes a key for a project slot: the plain key (to show) and its
// stored form.
func New(s *Sealer, projectName string, slot Slot, now time.Time) (string, Key, error) {
	plain, err := Generate()
	if err != nil {
		return "", Key{}, err
	}
	sealed, err := s.Seal(plain)
	if err != nil {
		return "", Key{}, err
	}
	return plain, Key{Project: projectName, Slot: slot, Hash: Sum(plain), Sealed: sealed, CreatedAt: now}, nil
}

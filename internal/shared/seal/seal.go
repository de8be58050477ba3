// Package seal encrypts small secrets at rest with AES-256-GCM.
//
// A sealed value is a version byte (0x01), a random 12-byte nonce and the GCM
// ciphertext with its 16-byte tag. Additional data binds a value to its
// context (for example a site id), so a value copied to another record does
// not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

const (
	version1  = 0x01
	nonceSize = 12
	overhead  = 1 + nonceSize + 16 // version, nonce, GCM tag
)

// ErrDecrypt is returned by Open when a value cannot be decrypted: it was
// tampered with, sealed with another key or opened with other additional
// data. It deliberately does not say which.
var ErrDecrypt = errors.New("seal: cannot decrypt")

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD // stateless after construction
}

// New returns a Box for a 32-byte key. The key is not retained beyond the
// cipher state.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData with a fresh random nonce.
func (b *Box) Seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version1
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(out[1 : 1+nonceSize])
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, additionalData)
}

// Open decrypts a value made by Seal with the same additionalData. It returns
// ErrDecrypt for a value that was altered, sealed with another key or with
// other additional data, or is not a sealed value at all.
func (b *Box) Open(ciphertext, additionalData []byte) ([]byte, error) {
	if len(ciphertext) < overhead || ciphertext[0] != version1 {
		return nil, ErrDecrypt
	}
	nonce := ciphertext[1 : 1+nonceSize]
	pt, err := b.aead.Open(nil, nonce, ciphertext[1+nonceSize:], additionalData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

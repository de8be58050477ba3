package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := testBox(t, 7)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		ct := b.Seal(pt, []byte("site_1"))
		if ct[0] != 0x01 {
			t.Errorf("version byte = %#x, want 0x01", ct[0])
		}
		if len(ct) != len(pt)+overhead {
			t.Errorf("len(ciphertext) = %d, want %d", len(ct), len(pt)+overhead)
		}
		got, err := b.Open(ct, []byte("site_1"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	b := testBox(t, 7)
	x, y := b.Seal([]byte("same"), nil), b.Seal([]byte("same"), nil)
	if bytes.Equal(x, y) {
		t.Error("two seals of the same plaintext are equal; nonce is not random")
	}
}

func TestOpenFails(t *testing.T) {
	b := testBox(t, 7)
	ct := b.Seal([]byte("hunter2"), []byte("site_1"))
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name string
		box  *Box
		ct   []byte
		ad   string
	}{
		{"wrong additional data", b, ct, "site_2"},
		{"missing additional data", b, ct, ""},
		{"wrong key", testBox(t, 8), ct, "site_1"},
		{"tampered version", b, flip(0), "site_1"},
		{"tampered nonce", b, flip(1), "site_1"},
		{"tampered ciphertext", b, flip(overhead - 16 + 1), "site_1"},
		{"tampered tag", b, flip(len(ct) - 1), "site_1"},
		{"truncated", b, ct[:len(ct)-1], "site_1"},
		{"too short", b, ct[:overhead-1], "site_1"},
		{"empty", b, nil, "site_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.ct, []byte(tt.ad))
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("Open = %q, %v; want ErrDecrypt", got, err)
			}
		})
	}
}

func TestNewRejectsBadKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	b := testBox(t, 7)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ad := []byte{byte(i)}
			for range 100 {
				pt, err := b.Open(b.Seal([]byte("v"), ad), ad)
				if err != nil || string(pt) != "v" {
					t.Errorf("round trip = %q, %v", pt, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.key")
	b1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", perm)
	}
	if fi.Size() != KeySize {
		t.Errorf("key file size = %d, want %d", fi.Size(), KeySize)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after create, want only the key file", len(entries))
	}

	b2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := b2.Open(b1.Seal([]byte("v"), nil), nil)
	if err != nil || string(pt) != "v" {
		t.Errorf("reloaded key cannot open a value sealed with the created key: %q, %v", pt, err)
	}
}

func TestLoadOrCreateKeyConcurrentCreateAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.key")
	boxes := make([]*Box, 8)
	var wg sync.WaitGroup
	for i := range boxes {
		wg.Go(func() {
			b, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			boxes[i] = b
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ct := boxes[0].Seal([]byte("v"), nil)
	for i, b := range boxes {
		if _, err := b.Open(ct, nil); err != nil {
			t.Errorf("box %d has a different key: %v", i, err)
		}
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    []string
	}{
		{"group readable", make([]byte, KeySize), 0o640, []string{"mode 0640", "chmod 600"}},
		{"world readable", make([]byte, KeySize), 0o604, []string{"mode 0604", "chmod 600"}},
		{"too short", make([]byte, 16), 0o600, []string{"holds 16 bytes", "want exactly 32 bytes"}},
		{"too long", make([]byte, 33), 0o600, []string{"holds 33 bytes"}},
		{"empty", nil, 0o600, []string{"holds 0 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secrets.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // not subject to umask
				t.Fatal(err)
			}
			_, err := LoadOrCreateKey(path)
			if err == nil {
				t.Fatal("LoadOrCreateKey succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, tt.content) {
				t.Error("refused key file was modified")
			}
		})
	}
}

func TestLoadOrCreateKeyMissingDirectory(t *testing.T) {
	_, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "missing", "secrets.key"))
	if err == nil {
		t.Fatal("LoadOrCreateKey in a missing directory succeeded")
	}
}

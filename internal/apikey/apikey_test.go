package apikey

import (
	"bytes"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	plain, k, err := New(s, "p", Key2, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 64 {
		t.Errorf("key length = %d, want 64 hex digits", len(plain))
	}
	if bytes.Contains(k.Sealed, []byte(plain)) {
		t.Error("sealed key contains the plain key")
	}
	got, err := s.Open(k.Sealed)
	if err != nil || got != plain {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	if !Equal(k.Hash, Sum(plain)) || Equal(k.Hash, Sum(plain+"x")) {
		t.Error("hash comparison is wrong")
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(k.Sealed); err == nil {
		t.Error("a different secret opened the key")
	}
	if _, err := s.Open([]byte{1, 2}); err == nil {
		t.Error("a short sealed key opened")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("NewSealer accepted a short secret")
	}
}

func TestGenerateIsRandom(t *testing.T) {
	a, _ := Generate()
	b, _ := Generate()
	if a == b {
		t.Errorf("two keys are equal: %s", a)
	}
}

func TestParseSlot(t *testing.T) {
	for in, want := range map[string]Slot{"key1": Key1, "Key2": Key2, "2": Key2} {
		got, err := ParseSlot(in)
		if err != nil || got != want {
			t.Errorf("ParseSlot(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSlot("key3"); err == nil {
		t.Error("ParseSlot(key3) succeeded")
	}
}

package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// fuzzSeed is a small writer-built file with every value type and a few
// tensors.
func fuzzSeed(tb testing.TB) []byte {
	w := NewWriter(3)
	for _, tc := range allValues {
		if err := w.SetKV(tc.key, tc.v); err != nil {
			tb.Fatal(err)
		}
	}
	w.SetKV(KeyAlignment, uint32(16))
	w.AddTensor("a", tensor.F32, []uint64{4, 2}, make([]byte, 32))
	w.AddTensor("b", tensor.Q4_0, []uint64{32}, bytes.Repeat([]byte{0x3c}, 18))
	w.AddTensor("c", tensor.Q4_K, []uint64{256}, make([]byte, 144))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzParse feeds arbitrary bytes to Parse. Whatever parses must be fully
// readable without panics, and must survive a Writer round trip unchanged.
func FuzzParse(f *testing.F) {
	f.Add(fuzzSeed(f))
	f.Add([]byte("GGUF\x02\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00"))
	// Small real files from the shared test data, when present. (Large
	// ones would only slow the mutator down.)
	if dir := sharedDirOrEmpty(); dir != "" {
		paths, _ := filepath.Glob(filepath.Join(dir, "testdata", "models", "*.gguf"))
		more, _ := filepath.Glob(filepath.Join(dir, "testdata", "tokenizer", "*.gguf"))
		for _, p := range append(paths, more...) {
			if st, err := os.Stat(p); err == nil && st.Size() <= 1<<20 {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		w := NewWriter(file.Version)
		for _, kv := range file.KV {
			v := kv.Value
			_ = v.String()
			_ = v.Interface()
			v.AsStrings()
			v.AsFloat32s()
			v.AsInt32s()
			v.AsInt64s()
			v.AsFloat()
			if err := w.SetKV(kv.Key, v); err != nil {
				t.Fatalf("SetKV(%q, parsed value): %v", kv.Key, err)
			}
		}
		roundTrip := true
		for _, ti := range file.Tensors {
			got, b, ok := file.Tensor(ti.Name)
			if !ok || uint64(len(b)) != ti.Size() || got.Name != ti.Name {
				t.Fatalf("Tensor(%q) = ok %v, %d bytes, want %d", ti.Name, ok, len(b), ti.Size())
			}
			if len(ti.Dims) == 0 {
				roundTrip = false // the writer only writes 1 to 4 dimensions
				continue
			}
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, b); err != nil {
				t.Fatalf("AddTensor(%q) of a parsed tensor: %v", ti.Name, err)
			}
		}
		if !roundTrip {
			return
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("re-parse of written file: %v", err)
		}
		if len(again.KV) != len(file.KV) || len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("round trip: %d KVs, %d tensors, want %d, %d", len(again.KV), len(again.Tensors), len(file.KV), len(file.Tensors))
		}
		for i, kv := range file.KV {
			got := again.KV[i]
			if kv.Key == KeyAlignment {
				a, _ := kv.Value.AsUint()
				b, _ := got.Value.AsUint()
				if a != b {
					t.Fatalf("alignment %d became %d", a, b)
				}
				continue
			}
			if got.Key != kv.Key || !got.Value.Equal(kv.Value) {
				t.Fatalf("KV %d: %q=%v became %q=%v", i, kv.Key, kv.Value, got.Key, got.Value)
			}
		}
		for _, ti := range file.Tensors {
			_, want, _ := file.Tensor(ti.Name)
			_, got, ok := again.Tensor(ti.Name)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("tensor %q data changed in round trip", ti.Name)
			}
		}
	})
}

// sharedDirOrEmpty is sharedDir without skipping.
func sharedDirOrEmpty() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "testdata")); err != nil {
		return ""
	}
	return shared
}

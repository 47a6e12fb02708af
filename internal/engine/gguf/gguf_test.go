package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// build writes w and returns the image.
func build(tb testing.TB, w *Writer) []byte {
	tb.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if n != int64(buf.Len()) {
		tb.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// allValues is one metadata value of every kind SetKV accepts, with the type
// it must be stored as.
var allValues = []struct {
	key  string
	v    any
	typ  ValueType
	elem ValueType
}{
	{"u8", uint8(200), Uint8, 0},
	{"i8", int8(-100), Int8, 0},
	{"u16", uint16(60000), Uint16, 0},
	{"i16", int16(-30000), Int16, 0},
	{"u32", uint32(0xFFFFFFFF), Uint32, 0},
	{"i32", int32(-2000000000), Int32, 0},
	{"u64", uint64(1) << 63, Uint64, 0},
	{"i64", int64(math.MinInt64), Int64, 0},
	{"int", -5, Int64, 0},
	{"f32", float32(1e-5), Float32, 0},
	{"f64", math.Pi, Float64, 0},
	{"bool.t", true, Bool, 0},
	{"bool.f", false, Bool, 0},
	{"str", "héllo ▁world", String, 0},
	{"str.empty", "", String, 0},
	{"a.str", []string{"<unk>", "", "▁t", "\x00\xff"}, Array, String},
	{"a.str.empty", []string{}, Array, String},
	{"a.u8", []uint8{0, 1, 255}, Array, Uint8},
	{"a.i8", []int8{-128, 0, 127}, Array, Int8},
	{"a.u16", []uint16{0, 65535}, Array, Uint16},
	{"a.i16", []int16{-32768, 32767}, Array, Int16},
	{"a.u32", []uint32{1, 0xFFFFFFFF}, Array, Uint32},
	{"a.i32", []int32{2, 3, 6, -1}, Array, Int32},
	{"a.u64", []uint64{math.MaxUint64}, Array, Uint64},
	{"a.i64", []int64{math.MinInt64, 7}, Array, Int64},
	{"a.f32", []float32{0, -1.5, float32(math.Inf(1))}, Array, Float32},
	{"a.f64", []float64{math.SmallestNonzeroFloat64}, Array, Float64},
	{"a.bool", []bool{true, false, true}, Array, Bool},
}

func TestRoundTripValues(t *testing.T) {
	for _, version := range []uint32{2, 3} {
		w := NewWriter(version)
		for _, tc := range allValues {
			if err := w.SetKV(tc.key, tc.v); err != nil {
				t.Fatalf("SetKV(%q): %v", tc.key, err)
			}
		}
		f, err := Parse(build(t, w))
		if err != nil {
			t.Fatalf("v%d: Parse: %v", version, err)
		}
		if f.Version != version {
			t.Errorf("Version = %d, want %d", f.Version, version)
		}
		if len(f.KV) != len(allValues) {
			t.Fatalf("v%d: %d KVs, want %d", version, len(f.KV), len(allValues))
		}
		for i, tc := range allValues {
			kv := f.KV[i]
			if kv.Key != tc.key {
				t.Errorf("KV[%d].Key = %q, want %q (file order)", i, kv.Key, tc.key)
			}
			if kv.Value.Type != tc.typ || kv.Value.Type == Array && kv.Value.ElemType != tc.elem {
				t.Errorf("%s: type %v/%v, want %v/%v", tc.key, kv.Value.Type, kv.Value.ElemType, tc.typ, tc.elem)
			}
			want := tc.v
			if x, ok := want.(int); ok {
				want = int64(x)
			}
			if d := cmp.Diff(want, kv.Value.Interface()); d != "" {
				t.Errorf("%s (-want +got):\n%s", tc.key, d)
			}
			// Re-setting the parsed Value must give the same encoding.
			w2 := NewWriter(version)
			if err := w2.SetKV(tc.key, kv.Value); err != nil {
				t.Fatalf("SetKV(Value %q): %v", tc.key, err)
			}
			f2, err := Parse(build(t, w2))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(kv, f2.KV[0]); d != "" {
				t.Errorf("%s: Value round trip (-want +got):\n%s", tc.key, d)
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	w := NewWriter(3)
	for _, tc := range allValues {
		if err := w.SetKV(tc.key, tc.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(build(t, w))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		V  any
		OK bool
	}
	r := func(v any, ok bool) result { return result{v, ok} }
	tests := []struct {
		name string
		got  result
		want result
	}{
		{"Uint u8", r(f.Uint("u8")), r(uint64(200), true)},
		{"Uint u32", r(f.Uint("u32")), r(uint64(0xFFFFFFFF), true)},
		{"Uint u64", r(f.Uint("u64")), r(uint64(1)<<63, true)},
		{"Uint i16 negative", r(f.Uint("i16")), r(uint64(0), false)},
		{"Uint int negative", r(f.Uint("int")), r(uint64(0), false)},
		{"Uint string", r(f.Uint("str")), r(uint64(0), false)},
		{"Uint missing", r(f.Uint("nope")), r(uint64(0), false)},
		{"Int i8", r(f.Int("i8")), r(int64(-100), true)},
		{"Int u32", r(f.Int("u32")), r(int64(0xFFFFFFFF), true)},
		{"Int i64", r(f.Int("i64")), r(int64(math.MinInt64), true)},
		{"Int u64 too big", r(f.Int("u64")), r(int64(0), false)},
		{"Int f32", r(f.Int("f32")), r(int64(0), false)},
		{"Float f32", r(f.Float("f32")), r(float64(float32(1e-5)), true)},
		{"Float f64", r(f.Float("f64")), r(math.Pi, true)},
		{"Float i32", r(f.Float("i32")), r(float64(-2000000000), true)},
		{"Float bool", r(f.Float("bool.t")), r(float64(0), false)},
		{"Bool", r(f.Bool("bool.t")), r(true, true)},
		{"Bool false", r(f.Bool("bool.f")), r(false, true)},
		{"Bool u8", r(f.Bool("u8")), r(false, false)},
		{"String", r(f.String("str")), r("héllo ▁world", true)},
		{"String empty", r(f.String("str.empty")), r("", true)},
		{"String of array", r(f.String("a.str")), r("", false)},
		{"Strings", r(f.Strings("a.str")), r([]string{"<unk>", "", "▁t", "\x00\xff"}, true)},
		{"Strings empty", r(f.Strings("a.str.empty")), r([]string{}, true)},
		{"Strings of ints", r(f.Strings("a.i32")), r([]string(nil), false)},
		{"Float32s", r(f.Float32s("a.f32")), r([]float32{0, -1.5, float32(math.Inf(1))}, true)},
		{"Float32s f64", r(f.Float32s("a.f64")), r([]float32{0}, true)},
		{"Float32s ints", r(f.Float32s("a.i32")), r([]float32(nil), false)},
		{"Int32s i32", r(f.Int32s("a.i32")), r([]int32{2, 3, 6, -1}, true)},
		{"Int32s u32", r(f.Int32s("a.u32")), r([]int32{1, -1}, true)},
		{"Int32s u8", r(f.Int32s("a.u8")), r([]int32{0, 1, 255}, true)},
		{"Int32s i64", r(f.Int32s("a.i64")), r([]int32(nil), false)},
		{"Int32s scalar", r(f.Int32s("i32")), r([]int32(nil), false)},
		{"Architecture", r(f.Architecture(), true), r("llama", true)},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	if v, ok := f.Get("a.i64"); !ok {
		t.Error("Get(a.i64) missing")
	} else if got, ok := v.AsInt64s(); !ok || !cmp.Equal(got, []int64{math.MinInt64, 7}) {
		t.Errorf("AsInt64s = %v, %v", got, ok)
	}
	if v, _ := f.Get("a.u32"); v.Len() != 2 {
		t.Errorf("Len = %d, want 2", v.Len())
	}
	if got := (&File{}).Architecture(); got != "" {
		t.Errorf("empty Architecture() = %q", got)
	}
}

func TestValueString(t *testing.T) {
	w := NewWriter(3)
	w.SetKV("s", "a\"b")
	w.SetKV("n", uint32(7))
	w.SetKV("a", []string{"x", "y"})
	w.SetKV("long", make([]int32, 20))
	f, err := Parse(build(t, w))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"s":    `"a\"b"`,
		"n":    "7",
		"a":    `[2]STRING{"x", "y"}`,
		"long": "[20]INT32{0, 0, 0, 0, 0, 0, 0, 0, ...}",
	}
	for k, s := range want {
		v, _ := f.Get(k)
		if got := v.String(); got != s {
			t.Errorf("%s: String() = %s, want %s", k, got, s)
		}
	}
}

func TestRoundTripTensors(t *testing.T) {
	type tens struct {
		name string
		typ  tensor.Type
		dims []uint64
	}
	in := []tens{
		{"a", tensor.F32, []uint64{3}},
		{"b", tensor.F16, []uint64{5, 3}},
		{"c", tensor.Q4_K, []uint64{256, 2, 1}},
		{"d", tensor.Q8_0, []uint64{32, 1, 2, 3}},
		{"e", tensor.BF16, []uint64{0, 4}},
		{"blk.0.ffn_down.weight", tensor.Q6_K, []uint64{512, 3}},
	}
	for _, align := range []int{0, 1, 8, 64, 4096} {
		w := NewWriter(3)
		if align != 0 {
			if err := w.SetKV(KeyAlignment, uint32(align)); err != nil {
				t.Fatal(err)
			}
		}
		w.SetKV("general.architecture", "test")
		var datas [][]byte
		for i, x := range in {
			ti := TensorInfo{Dims: x.dims, Type: x.typ}
			data := bytes.Repeat([]byte{byte(i + 1)}, int(ti.Size()))
			datas = append(datas, data)
			if err := w.AddTensor(x.name, x.typ, x.dims, data); err != nil {
				t.Fatal(err)
			}
		}
		img := build(t, w)
		f, err := Parse(img)
		if err != nil {
			t.Fatalf("align %d: %v", align, err)
		}
		wantAlign := align
		if align == 0 {
			wantAlign = DefaultAlignment
		}
		if f.Alignment != wantAlign {
			t.Errorf("Alignment = %d, want %d", f.Alignment, wantAlign)
		}
		if f.DataOffset()%int64(wantAlign) != 0 {
			t.Errorf("DataOffset %d not aligned to %d", f.DataOffset(), wantAlign)
		}
		if len(img)%wantAlign != 0 {
			t.Errorf("file length %d not padded to %d", len(img), wantAlign)
		}
		for i, x := range in {
			ti, b, ok := f.Tensor(x.name)
			if !ok {
				t.Fatalf("Tensor(%q) missing", x.name)
			}
			want := TensorInfo{Name: x.name, Dims: x.dims, Type: x.typ, Offset: ti.Offset}
			if d := cmp.Diff(want, ti); d != "" {
				t.Errorf("info (-want +got):\n%s", d)
			}
			if ti.Offset%uint64(wantAlign) != 0 {
				t.Errorf("%s: offset %d not aligned", x.name, ti.Offset)
			}
			if !bytes.Equal(b, datas[i]) {
				t.Errorf("%s: data differs", x.name)
			}
			if cap(b) != len(b) {
				t.Errorf("%s: cap %d > len %d: callers could write past the tensor", x.name, cap(b), len(b))
			}
		}
		if _, _, ok := f.Tensor("missing"); ok {
			t.Error("Tensor(missing) found")
		}
		f.Close()
		if _, _, ok := f.Tensor("a"); ok {
			t.Error("Tensor after Close succeeded")
		}
	}
}

func TestOpen(t *testing.T) {
	w := NewWriter(3)
	w.SetKV("general.architecture", "llama")
	w.SetKV("tokenizer.ggml.tokens", []string{"a", "b"})
	data := make([]byte, 64*4)
	for i := range data {
		data[i] = byte(i)
	}
	if err := w.AddTensor("t", tensor.F32, []uint64{16, 4}, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, build(t, w), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, b, ok := f.Tensor("t")
	if !ok || !bytes.Equal(b, data) {
		t.Fatalf("Tensor: ok=%v, data equal=%v", ok, bytes.Equal(b, data))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Metadata stays valid after the mapping is gone.
	if got, _ := f.Strings("tokenizer.ggml.tokens"); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("tokens after Close = %q", got)
	}
	if a := f.Architecture(); a != "llama" {
		t.Errorf("Architecture after Close = %q", a)
	}

	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); !errors.Is(err, ErrFormat) {
		t.Errorf("Open(empty) = %v, want ErrFormat", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open(directory) succeeded")
	}
}

func TestWriterErrors(t *testing.T) {
	f32 := make([]byte, 4*32)
	tests := []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"unsupported type", func(w *Writer) error { return w.SetKV("k", struct{}{}) }, "unsupported value type"},
		{"nested", func(w *Writer) error { return w.SetKV("k", [][]int32{{1}}) }, "unsupported value type"},
		{"bad Value", func(w *Writer) error { return w.SetKV("k", Value{Type: 99}) }, "invalid value type"},
		{"alignment not power of 2", func(w *Writer) error { return w.SetKV(KeyAlignment, uint32(48)) }, "power of two"},
		{"alignment zero", func(w *Writer) error { return w.SetKV(KeyAlignment, 0) }, "power of two"},
		{"alignment string", func(w *Writer) error { return w.SetKV(KeyAlignment, "32") }, "power of two"},
		{"empty name", func(w *Writer) error { return w.AddTensor("", tensor.F32, []uint64{32}, f32) }, "empty name"},
		{"long name", func(w *Writer) error { return w.AddTensor(strings.Repeat("x", 64), tensor.F32, []uint64{32}, f32) }, "longer than"},
		{"no dims", func(w *Writer) error { return w.AddTensor("t", tensor.F32, nil, f32) }, "dimensions"},
		{"5 dims", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{32, 1, 1, 1, 1}, f32) }, "dimensions"},
		{"bad type", func(w *Writer) error { return w.AddTensor("t", tensor.Type(4), []uint64{32}, f32) }, "unknown type"},
		{"partial block", func(w *Writer) error { return w.AddTensor("t", tensor.Q8_0, []uint64{31}, make([]byte, 34)) }, "block size"},
		{"overflow", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{1 << 32, 1 << 32}, f32) }, "too many elements"},
		{"short data", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{33}, f32) }, "needs 132 bytes"},
		{"duplicate", func(w *Writer) error {
			w.AddTensor("t", tensor.F32, []uint64{32}, f32)
			return w.AddTensor("t", tensor.F32, []uint64{32}, f32)
		}, "duplicate"},
	}
	for _, tc := range tests {
		err := tc.do(NewWriter(3))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewWriter(1).WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("WriteTo version 1 succeeded")
	}
}

func TestSetKVReplaces(t *testing.T) {
	w := NewWriter(3)
	w.SetKV("a", uint32(1))
	w.SetKV("b", "x")
	w.SetKV("a", "now a string")
	f, err := Parse(build(t, w))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, kv := range f.KV {
		got = append(got, kv.Key+"="+kv.Value.String())
	}
	if d := cmp.Diff([]string{`a="now a string"`, `b="x"`}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// Helpers to build hostile images by hand.
type img struct{ b []byte }

func (m *img) u32(v uint32) *img { m.b = binary.LittleEndian.AppendUint32(m.b, v); return m }
func (m *img) u64(v uint64) *img { m.b = binary.LittleEndian.AppendUint64(m.b, v); return m }
func (m *img) str(s string) *img { return m.u64(uint64(len(s))).raw(s) }
func (m *img) raw(s string) *img { m.b = append(m.b, s...); return m }
func head(ver uint32, nt, nkv uint64) *img {
	m := &img{}
	return m.raw("GGUF").u32(ver).u64(nt).u64(nkv)
}

func TestHostile(t *testing.T) {
	// tensorImg is a valid file with one F32 tensor [8] described by the
	// given fields, followed by 32 bytes of data.
	tensorImg := func(ndims uint32, dims []uint64, typ uint32, off uint64) []byte {
		m := head(3, 1, 0).str("t").u32(ndims)
		for _, d := range dims {
			m.u64(d)
		}
		m.u32(typ).u64(off)
		for len(m.b)%32 != 0 {
			m.b = append(m.b, 0)
		}
		m.b = append(m.b, make([]byte, 32)...)
		return m.b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated magic"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "bad magic"},
		{"no version", []byte("GGUF"), "truncated version"},
		{"version 1", head(1, 0, 0).b, "version 1"},
		{"version 4", head(4, 0, 0).b, "unsupported GGUF version 4"},
		{"big endian", []byte("GGUF\x00\x00\x00\x03"), "big-endian"},
		{"truncated counts", head(3, 0, 0).b[:16], "truncated metadata count"},
		{"huge kv count", head(3, 0, 1<<62).b, "metadata count"},
		{"huge tensor count", head(3, 1<<62, 0).b, "tensor count"},
		{"kv count past end", head(3, 0, 1).str("k").b, "metadata count 1 exceeds"},
		{"kv truncated", head(3, 0, 1).str("kkkkk").b, "truncated value type"},
		{"huge key length", head(3, 0, 1).u64(1 << 63).raw("xxxxxxxxxxxxxxx").b, "truncated metadata key"},
		{"unknown value type", head(3, 0, 1).str("k").u32(13).raw("x").b, "unknown value type 13"},
		{"truncated u32", head(3, 0, 1).str("k").u32(uint32(Uint32)).raw("xx").b, "truncated UINT32"},
		{"huge string", head(3, 0, 1).str("k").u32(uint32(String)).u64(math.MaxUint64).b, "truncated string"},
		{"nested array", head(3, 0, 1).str("k").u32(uint32(Array)).u32(uint32(Array)).u64(1).b, "nested arrays"},
		{"array bad elem", head(3, 0, 1).str("k").u32(uint32(Array)).u32(99).u64(0).b, "unknown array element type"},
		{"array of 2^63 strings", head(3, 0, 1).str("k").u32(uint32(Array)).u32(uint32(String)).u64(1 << 63).u64(0).b, "exceeds"},
		{"array of 2^62 u64", head(3, 0, 1).str("k").u32(uint32(Array)).u32(uint32(Uint64)).u64(1 << 62).u64(0).b, "exceeds"},
		{"array count wraps", head(3, 0, 1).str("k").u32(uint32(Array)).u32(uint32(Uint32)).u64(1<<62 + 1).u64(0).b, "exceeds"},
		{"string in array too long", head(3, 0, 1).str("k").u32(uint32(Array)).u32(uint32(String)).u64(1).u64(100).raw("ab").b, "truncated string"},
		{"duplicate key", head(3, 0, 2).str("k").u32(uint32(Uint8)).raw("\x01").str("k").u32(uint32(Uint8)).raw("\x02").b, "duplicate metadata key"},
		{"alignment 0", head(3, 0, 1).str(KeyAlignment).u32(uint32(Uint32)).u32(0).b, "power of two"},
		{"alignment 3", head(3, 0, 1).str(KeyAlignment).u32(uint32(Uint32)).u32(3).b, "power of two"},
		{"alignment string", head(3, 0, 1).str(KeyAlignment).u32(uint32(String)).str("32").b, "power of two"},
		{"alignment huge", head(3, 0, 1).str(KeyAlignment).u32(uint32(Uint64)).u64(1 << 62).b, "power of two"},
		{"tensor past end", head(3, 1, 0).str("t").b, "tensor count 1 exceeds"},
		{"tensor truncated", head(3, 1, 0).str("ttttttttttttttttt").b, "truncated dimension count"},
		{"tensor name too long", head(3, 1, 0).str(strings.Repeat("n", 64)).u32(1).u64(1).u32(0).u64(0).b, "longer than 63"},
		{"5 dims", tensorImg(5, []uint64{1, 1, 1, 1, 8}, 0, 0), "5 dimensions"},
		{"huge dims", tensorImg(2, []uint64{1 << 32, 1 << 32}, 0, 0), "too many elements"},
		{"negative dim", tensorImg(1, []uint64{1 << 63}, 0, 0), "out of range"},
		{"size overflow", tensorImg(2, []uint64{1 << 31, 1 << 31}, 0, 0), "size out of range"},
		{"unknown type", tensorImg(1, []uint64{8}, 4, 0), "unknown type 4"},
		{"partial block", tensorImg(1, []uint64{16}, uint32(tensor.Q8_0), 0), "block size"},
		{"misaligned offset", tensorImg(1, []uint64{1}, 0, 4), "not a multiple of the alignment"},
		{"offset past end", tensorImg(1, []uint64{8}, 0, 32), "outside the data section"},
		{"offset wraps", tensorImg(1, []uint64{8}, 0, math.MaxUint64-31), "outside the data section"},
		{"too big for file", tensorImg(1, []uint64{9}, 0, 0), "outside the data section"},
		{"duplicate tensor", func() []byte {
			m := head(3, 2, 0).str("t").u32(1).u64(8).u32(0).u64(0).str("t").u32(1).u64(8).u32(0).u64(32)
			return m.b
		}(), "duplicate tensor name"},
		{"overlap", func() []byte {
			m := head(3, 2, 0).str("a").u32(1).u64(16).u32(0).u64(0).str("b").u32(1).u64(8).u32(0).u64(32)
			for len(m.b)%32 != 0 {
				m.b = append(m.b, 0)
			}
			m.b = append(m.b, make([]byte, 96)...)
			return m.b
		}(), "overlap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.data)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want containing %q", err, tc.want)
			}
		})
	}
	// The building blocks above do make valid files.
	for _, ok := range [][]byte{
		head(3, 0, 0).b,
		tensorImg(1, []uint64{8}, 0, 0),
		tensorImg(0, nil, 0, 0),
		tensorImg(2, []uint64{0, 1 << 62}, 0, 0),
	} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("valid image rejected: %v", err)
		}
	}
}

// TestTruncated cuts a valid file at every length and checks that each
// prefix is rejected without panicking.
func TestTruncated(t *testing.T) {
	w := NewWriter(3)
	for _, tc := range allValues {
		w.SetKV(tc.key, tc.v)
	}
	w.AddTensor("x", tensor.Q8_0, []uint64{64, 2}, make([]byte, 4*34))
	w.AddTensor("y", tensor.F32, []uint64{3}, make([]byte, 12))
	full := build(t, w)
	if _, err := Parse(full); err != nil {
		t.Fatal(err)
	}
	// Trailing padding after the last tensor is optional.
	f, _ := Parse(full)
	lastEnd := f.DataOffset() + 4*34 + 32 - 4*34%32 + 12
	for n := range len(full) {
		_, err := Parse(full[:n])
		if int64(n) >= lastEnd {
			if err != nil {
				t.Errorf("prefix of %d (past the last tensor) rejected: %v", n, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("prefix of %d of %d bytes parsed", n, len(full))
		}
	}
}

package inference

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFloat32Base64(t *testing.T) {
	cases := []struct {
		v    []float32
		want string
	}{
		{nil, ""},
		{[]float32{1}, "AACAPw=="},
		{[]float32{1, -2}, "AACAPwAAAMA="},
		{[]float32{0.5, float32(math.Inf(1)), math.SmallestNonzeroFloat32}, "AAAAPwAAgH8BAAAA"},
	}
	for _, tc := range cases {
		got := EncodeFloat32s(tc.v)
		if got != tc.want {
			t.Errorf("EncodeFloat32s(%v) = %q, want %q", tc.v, got, tc.want)
		}
		back, err := DecodeFloat32s(got)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.v, back, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	if _, err := DecodeFloat32s("AAA="); err == nil {
		t.Error("3 bytes decoded")
	}
}

func TestEmbeddingUnmarshal(t *testing.T) {
	cases := []struct{ in string }{
		{`{"object":"embedding","index":1,"embedding":[1,-2]}`},
		{`{"object":"embedding","index":1,"embedding":"AACAPwAAAMA="}`},
	}
	for _, tc := range cases {
		var e Embedding
		if err := json.Unmarshal([]byte(tc.in), &e); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Embedding{Object: "embedding", Index: 1, Embedding: []float32{1, -2}}, e); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
	list := (&EmbeddingList{Object: "list", Model: "m", Data: []Embedding{{Object: "embedding", Embedding: []float32{1}}}}).Base64()
	if list.Data[0].Embedding != "AACAPw==" || list.Model != "m" {
		t.Errorf("Base64() = %+v", list)
	}
}

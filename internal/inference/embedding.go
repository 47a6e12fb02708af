package inference

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// EncodeFloat32s writes a vector as OpenAI's base64 encoding_format does:
// little-endian IEEE-754 float32 values, base64 (standard, padded).
func EncodeFloat32s(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// DecodeFloat32s reads a vector written by EncodeFloat32s.
func DecodeFloat32s(s string) ([]float32, error) {
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	if len(buf)%4 != 0 {
		return nil, fmt.Errorf("embedding: %d bytes is not a whole number of float32 values", len(buf))
	}
	v := make([]float32, len(buf)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return v, nil
}

// UnmarshalJSON reads an embedding whose vector is an array of numbers or
// a base64 string (an upstream that answered encoding_format base64).
func (e *Embedding) UnmarshalJSON(b []byte) error {
	var raw struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Embedding{Object: raw.Object, Index: raw.Index}
	v := bytes.TrimSpace(raw.Embedding)
	switch {
	case len(v) == 0 || bytes.Equal(v, null):
		return nil
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		f, err := DecodeFloat32s(s)
		if err != nil {
			return err
		}
		e.Embedding = f
		return nil
	}
	return json.Unmarshal(v, &e.Embedding)
}

// Base64Embedding is an embedding as sent when the client asked for
// encoding_format base64.
type Base64Embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding string `json:"embedding"`
}

// Base64EmbeddingList is an embeddings response with base64 vectors.
type Base64EmbeddingList struct {
	Object string            `json:"object"`
	Model  string            `json:"model"`
	Data   []Base64Embedding `json:"data"`
	Usage  *Usage            `json:"usage"`
}

// Base64 returns the list with every vector base64-encoded.
func (l *EmbeddingList) Base64() *Base64EmbeddingList {
	out := &Base64EmbeddingList{Object: l.Object, Model: l.Model, Usage: l.Usage, Data: make([]Base64Embedding, len(l.Data))}
	for i, e := range l.Data {
		out.Data[i] = Base64Embedding{Object: e.Object, Index: e.Index, Embedding: EncodeFloat32s(e.Embedding)}
	}
	return out
}

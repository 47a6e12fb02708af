package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// readBody reads the whole body once, at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := readSized(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &fault.Error{Kind: fault.TooLarge, Code: "request_too_large",
				Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", limit), Err: err}
		}
		return nil, fmt.Errorf("gateway: read body: %w", err)
	}
	return data, nil
}

// readSized is io.ReadAll, with the buffer sized at once for a body of a
// declared length (size, -1 when unknown) up to limit, so that a typical
// body is read into one allocation instead of a growing series.
func readSized(r io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size > limit {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: the read that sees EOF needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow, as io.ReadAll does
		}
	}
}

// validator is a request that checks itself.
type validator interface{ Validate() error }

// decodeRequest decodes data into v (a pointer to a request) and validates
// it. Every error is an Invalid *fault.Error: malformed JSON says where,
// a value of the wrong JSON type names its parameter.
func decodeRequest[T any, PT interface {
	*T
	validator
}](data []byte) (*T, error) {
	v := new(T)
	if err := decodeJSON(data, v); err != nil {
		return nil, err
	}
	if err := PT(v).Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeChat, decodeCompletion and decodeEmbedding decode and validate a
// request body.
func decodeChat(data []byte) (*inference.ChatRequest, error) {
	return decodeRequest[inference.ChatRequest](data)
}

func decodeCompletion(data []byte) (*inference.CompletionRequest, error) {
	return decodeRequest[inference.CompletionRequest](data)
}

func decodeEmbedding(data []byte) (*inference.EmbeddingRequest, error) {
	return decodeRequest[inference.EmbeddingRequest](data)
}

// decodeJSON decodes a JSON object into v, ignoring unknown fields.
func decodeJSON(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return fault.Param("", inference.CodeInvalidJSON, "The request body is empty. Send a JSON object.")
	}
	if trimmed[0] != '{' {
		if !json.Valid(data) {
			return syntaxFault(data, json.Unmarshal(data, new(any)))
		}
		return fault.Param("", inference.CodeInvalidType, "The request body must be a JSON object, but got %s.", describe(trimmed))
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return syntaxFault(data, err)
	}
	// A value of the wrong type, reported by the decoder or by one of the
	// wire types' UnmarshalJSON: walk the body along v's type to name the
	// parameter, with array indices.
	if param, want, got, ok := findTypeError(data, v); ok {
		return &fault.Error{Kind: fault.Invalid, Code: inference.CodeInvalidType, Param: param,
			Message: fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", param, want, got), Err: err}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &fault.Error{Kind: fault.Invalid, Code: inference.CodeInvalidType, Param: te.Field,
			Message: fmt.Sprintf("Invalid type for '%s': got %s.", te.Field, te.Value), Err: err}
	}
	return &fault.Error{Kind: fault.Invalid, Code: inference.CodeInvalidValue, Message: "Invalid request body: " + err.Error(), Err: err}
}

// syntaxFault describes malformed JSON with its line, column and offset.
func syntaxFault(data []byte, err error) error {
	var syn *json.SyntaxError
	off := int64(len(data))
	if errors.As(err, &syn) {
		off = syn.Offset
	}
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	what := "unexpected end of JSON input"
	if syn != nil {
		what = syn.Error()
	}
	return &fault.Error{Kind: fault.Invalid, Code: inference.CodeInvalidJSON, Err: err,
		Message: fmt.Sprintf("We could not parse the JSON body of your request: %s at line %d, column %d (byte %d). Send a valid JSON object.", what, line, col, off)}
}

package fakeopenai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const fingerprint = "fp_fake"

// chatRequest is the part of a chat request the fake reads.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []chatMessage  `json:"messages"`
	N                   *int           `json:"n"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text is the message's text: the string, or its text parts joined by a
// space.
func (m chatMessage) text() string {
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 {
		return ""
	}
	switch c[0] {
	case '"':
		var s string
		json.Unmarshal(c, &s)
		return s
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(c, &parts)
		var texts []string
		for _, p := range parts {
			if p.Type == "text" {
				texts = append(texts, p.Text)
			}
		}
		return strings.Join(texts, " ")
	}
	return ""
}

// completionRequest is the part of a legacy completions request the fake
// reads.
type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	N             *int            `json:"n"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	MaxTokens     *int            `json:"max_tokens"`
	Echo          bool            `json:"echo"`
}

// embeddingRequest is an embeddings request.
type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

// usage is OpenAI's usage object, details included.
type usage struct {
	PromptTokens            int             `json:"prompt_tokens"`
	CompletionTokens        int             `json:"completion_tokens"`
	TotalTokens             int             `json:"total_tokens"`
	PromptTokensDetails     *map[string]int `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *map[string]int `json:"completion_tokens_details,omitempty"`
}

func newUsage(prompt, completion int) *usage {
	pd := map[string]int{"cached_tokens": 0, "audio_tokens": 0}
	cd := map[string]int{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
	return &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion,
		PromptTokensDetails: &pd, CompletionTokensDetails: &cd}
}

// jsonNull marshals as null, for "usage": null in stream chunks.
var jsonNull = json.RawMessage("null")

// reply is the generated answer to text: "You said: <text>" cut to limit
// words (limit < 0: no cap), and the finish reason.
func reply(text string, limit int) ([]string, string) {
	out := words("You said: " + text)
	if limit >= 0 && len(out) > limit {
		return out[:limit], "length"
	}
	return out, "stop"
}

// decodeRequest decodes the body into v, writing a 400 on failure.
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "",
			"We could not parse the JSON body of your request: "+err.Error())
		return false
	}
	return true
}

// checkCommon validates n, the token cap and stream_options.
func checkCommon(w http.ResponseWriter, n *int, maxTokens *int, maxParam string, stream bool, so *streamOptions) (choices, limit int, ok bool) {
	choices, limit = 1, -1
	if n != nil {
		if *n < 1 || *n > 128 {
			code := "integer_below_min_value"
			if *n > 128 {
				code = "integer_above_max_value"
			}
			writeError(w, http.StatusBadRequest, "invalid_request_error", code, "n",
				fmt.Sprintf("Invalid 'n': %d. Expected a value between 1 and 128.", *n))
			return 0, 0, false
		}
		choices = *n
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "integer_below_min_value", maxParam,
				fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", maxParam, *maxTokens))
			return 0, 0, false
		}
		limit = *maxTokens
	}
	if so != nil && !stream {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "stream_options",
			"The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		return 0, 0, false
	}
	return choices, limit, true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !decodeRequest(w, r, &req) {
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "empty_array", "messages",
			"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
		return
	}
	maxTok, maxParam := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		maxTok, maxParam = req.MaxCompletionTokens, "max_completion_tokens"
	}
	n, limit, ok := checkCommon(w, req.N, maxTok, maxParam, req.Stream, req.StreamOptions)
	if !ok || !s.checkModel(w, req.Model) {
		return
	}
	prompt, last := 0, ""
	for _, m := range req.Messages {
		t := m.text()
		prompt += len(words(t))
		if m.Role == "user" {
			last = t
		}
	}
	out, finish := reply(last, limit)
	id, created, b := s.nextID("chatcmpl"), time.Now().Unix(), s.currentBehavior()
	u := newUsage(prompt, len(out)*n)

	if !req.Stream {
		choices := make([]map[string]any, n)
		for i := range choices {
			choices[i] = map[string]any{
				"index":         i,
				"message":       map[string]any{"role": "assistant", "content": strings.Join(out, " "), "refusal": nil},
				"logprobs":      nil,
				"finish_reason": finish,
			}
		}
		resp := map[string]any{"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"system_fingerprint": fingerprint, "choices": choices, "service_tier": "default"}
		if !b.OmitUsage {
			resp["usage"] = u
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	st := s.startStream(w, r, b)
	chunk := func(choices []map[string]any) map[string]any {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": fingerprint, "choices": choices}
		if includeUsage {
			c["usage"] = jsonNull
		}
		return c
	}
	choice := func(i int, delta map[string]any, finish any) []map[string]any {
		return []map[string]any{{"index": i, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	for i := range n {
		if !st.event(chunk(choice(i, map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil))) {
			return
		}
	}
	for j, word := range out {
		if j > 0 {
			word = " " + word
		}
		for i := range n {
			if !st.event(chunk(choice(i, map[string]any{"content": word}, nil))) {
				return
			}
		}
	}
	for i := range n {
		if !st.event(chunk(choice(i, map[string]any{}, finish))) {
			return
		}
	}
	if includeUsage && !b.OmitUsage {
		c := chunk([]map[string]any{})
		c["usage"] = u
		if !st.event(c) {
			return
		}
	}
	st.done()
}

// prompts parses a legacy prompt or an embeddings input: a string,
// strings, token ids or arrays of token ids. Each item's text (ids joined
// by spaces) and token count (words, or ids) is returned.
func prompts(raw json.RawMessage) (texts []string, counts []int, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil, fmt.Errorf("is required")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, []int{len(words(one))}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, s := range many {
			texts, counts = append(texts, s), append(counts, len(words(s)))
		}
		return texts, counts, nil
	}
	idsText := func(ids []int) string {
		ss := make([]string, len(ids))
		for i, id := range ids {
			ss[i] = strconv.Itoa(id)
		}
		return strings.Join(ss, " ")
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		return []string{idsText(ids)}, []int{len(ids)}, nil
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil {
		for _, ids := range idss {
			texts, counts = append(texts, idsText(ids)), append(counts, len(ids))
		}
		return texts, counts, nil
	}
	return nil, nil, fmt.Errorf("must be a string, an array of strings, an array of tokens or an array of token arrays")
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if !decodeRequest(w, r, &req) {
		return
	}
	texts, counts, err := prompts(req.Prompt)
	if err != nil || len(texts) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "prompt", "Invalid 'prompt': "+errText(err))
		return
	}
	n, limit, ok := checkCommon(w, req.N, req.MaxTokens, "max_tokens", req.Stream, req.StreamOptions)
	if !ok || !s.checkModel(w, req.Model) {
		return
	}
	if req.MaxTokens == nil {
		limit = 16
	}
	prompt, completion := 0, 0
	outs := make([][]string, len(texts))
	finishes := make([]string, len(texts))
	for p, t := range texts {
		prompt += counts[p]
		outs[p], finishes[p] = reply(t, limit)
		completion += len(outs[p]) * n
	}
	id, created, b := s.nextID("cmpl"), time.Now().Unix(), s.currentBehavior()
	u := newUsage(prompt, completion)
	u.PromptTokensDetails, u.CompletionTokensDetails = nil, nil

	if !req.Stream {
		var choices []map[string]any
		for p, out := range outs {
			text := strings.Join(out, " ")
			if req.Echo {
				text = texts[p] + text
			}
			for i := range n {
				choices = append(choices, map[string]any{"text": text, "index": p*n + i, "logprobs": nil, "finish_reason": finishes[p]})
			}
		}
		resp := map[string]any{"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"system_fingerprint": fingerprint, "choices": choices}
		if !b.OmitUsage {
			resp["usage"] = u
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	st := s.startStream(w, r, b)
	chunk := func(choices []map[string]any) map[string]any {
		c := map[string]any{"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"system_fingerprint": fingerprint, "choices": choices}
		if includeUsage {
			c["usage"] = jsonNull
		}
		return c
	}
	choice := func(i int, text string, finish any) []map[string]any {
		return []map[string]any{{"text": text, "index": i, "logprobs": nil, "finish_reason": finish}}
	}
	for p, out := range outs {
		if req.Echo {
			for i := range n {
				if !st.event(chunk(choice(p*n+i, texts[p], nil))) {
					return
				}
			}
		}
		for j, word := range out {
			if j > 0 {
				word = " " + word
			}
			for i := range n {
				if !st.event(chunk(choice(p*n+i, word, nil))) {
					return
				}
			}
		}
		for i := range n {
			if !st.event(chunk(choice(p*n+i, "", finishes[p]))) {
				return
			}
		}
	}
	if includeUsage && !b.OmitUsage {
		c := chunk([]map[string]any{})
		c["usage"] = u
		if !st.event(c) {
			return
		}
	}
	st.done()
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if !decodeRequest(w, r, &req) {
		return
	}
	texts, counts, err := prompts(req.Input)
	if err != nil || len(texts) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "input", "Invalid 'input': "+errText(err))
		return
	}
	dims := s.opts.Dimensions
	if req.Dimensions != nil {
		if *req.Dimensions < 1 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "integer_below_min_value", "dimensions",
				fmt.Sprintf("Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got %d instead.", *req.Dimensions))
			return
		}
		dims = *req.Dimensions
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "encoding_format",
			fmt.Sprintf("Invalid value for 'encoding_format': %q. Supported values are: 'float' and 'base64'.", req.EncodingFormat))
		return
	}
	if !s.checkModel(w, req.Model) {
		return
	}
	data := make([]map[string]any, len(texts))
	prompt := 0
	for i, t := range texts {
		if t == "" {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "input",
				"'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
			return
		}
		prompt += counts[i]
		v := Embedding(t, dims)
		var vec any = v
		if req.EncodingFormat == "base64" {
			vec = encodeBase64(v)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": vec}
	}
	resp := map[string]any{"object": "list", "data": data, "model": req.Model}
	if !s.currentBehavior().OmitUsage {
		resp["usage"] = map[string]int{"prompt_tokens": prompt, "total_tokens": prompt}
	}
	writeJSON(w, http.StatusOK, resp)
}

func errText(err error) string {
	if err == nil {
		return "must not be empty"
	}
	return err.Error()
}

// Embedding is the fake's vector for text: dims float32 values with unit
// Euclidean norm, a pure function of text and dims.
func Embedding(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	x := h.Sum64()
	v := make([]float64, dims)
	var norm float64
	for i := range v {
		x += 0x9e3779b97f4a7c15 // splitmix64
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		v[i] = float64(z>>11)/(1<<53)*2 - 1
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i := range v {
		out[i] = float32(v[i] / norm)
	}
	return out
}

func encodeBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// stream writes server-sent events with the behaviour's delays and drop.
type stream struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	rc   *http.ResponseController
	b    Behavior
	sent int
}

func (s *Server) startStream(w http.ResponseWriter, r *http.Request, b Behavior) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	return &stream{s: s, w: w, r: r, rc: rc, b: b}
}

// event writes one data event and flushes it. It reports false when the
// client went away; it ends the connection abruptly when the behaviour
// says to drop it.
func (st *stream) event(v any) bool {
	if st.sent > 0 && !st.s.sleep(st.r, st.b.ChunkDelay) {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return st.write(b)
}

func (st *stream) write(data []byte) bool {
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := st.w.Write(buf); err != nil {
		return false
	}
	if err := st.rc.Flush(); err != nil {
		return false
	}
	st.sent++
	if st.b.DropAfter > 0 && st.sent >= st.b.DropAfter {
		panic(http.ErrAbortHandler) // the server closes the connection mid-stream
	}
	return st.r.Context().Err() == nil
}

// done ends the stream with [DONE].
func (st *stream) done() {
	if st.b.ChunkDelay > 0 && !st.s.sleep(st.r, st.b.ChunkDelay) {
		return
	}
	st.write([]byte("[DONE]"))
}

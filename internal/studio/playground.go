package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
)

// playgroundForm is the playground's parameters, as typed (strings, so a
// bad number is shown back as it was).
type playgroundForm struct {
	Deployment, System, Message             string
	Temperature, MaxTokens, TopP            string
	FrequencyPenalty, PresencePenalty, Stop string
	Seed, ResponseFormat, Schema, History   string
}

// turn is one message of the conversation so far.
type turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// answer is the outcome of one playground request without JavaScript.
type answer struct {
	Content          string
	FinishReason     string
	PromptTokens     int
	CompletionTokens int
	LatencyMS        int64
	JSONNote         string // the JSON check's verdict in JSON modes
	JSONOK           bool
}

// playgroundPage is the playground.
type playgroundPage struct {
	Project     api.Project
	Deployments []api.Deployment
	Key         string // key1, for the page's own fetch
	Form        playgroundForm
	Turns       []turn
	Answer      *answer
	Errors      []formError
	RequestJSON string
	Curl        string
	Endpoint    string
}

// chatParams is the JSON body of a chat completion, as the playground
// sends it.
type chatParams struct {
	Model            string          `json:"model"`
	Messages         []turn          `json:"messages"`
	Temperature      *float64        `json:"temperature,omitempty"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	Stop             []string        `json:"stop,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	ResponseFormat   json.RawMessage `json:"response_format,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
}

// defaultPlayground are the parameters a fresh playground starts with.
func defaultPlayground() playgroundForm {
	return playgroundForm{System: "You are a helpful assistant.", Temperature: "0.7", MaxTokens: "64", TopP: "1",
		FrequencyPenalty: "0", PresencePenalty: "0", ResponseFormat: "text"}
}

// loadPlayground fills the project, its chat deployments and key1.
func (s *Studio) loadPlayground(q *request, p *playgroundPage) error {
	name := q.r.PathValue("project")
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), name); err != nil {
		return err
	}
	all, err := q.api.ListDeployments(q.ctx(), name)
	if err != nil {
		return err
	}
	for _, d := range all {
		if d.Capabilities == nil || d.Capabilities.Chat {
			p.Deployments = append(p.Deployments, d)
		}
	}
	keys, err := q.api.ListKeys(q.ctx(), name)
	if err != nil {
		return err
	}
	p.Key = keys.Key1
	p.Endpoint = s.endpoint(q, p.Project)
	return nil
}

func (s *Studio) playground(q *request) {
	p := playgroundPage{Form: defaultPlayground()}
	if err := s.loadPlayground(q, &p); err != nil {
		s.fail(q, err)
		return
	}
	p.Form.Deployment = q.r.URL.Query().Get("deployment")
	if p.Form.Deployment == "" && len(p.Deployments) > 0 {
		p.Form.Deployment = p.Deployments[0].Name
	}
	s.render(q.w, http.StatusOK, "playground", q.view("Playground · "+p.Project.Name, "playground", p))
}

// playgroundPost answers the playground's form without JavaScript: it
// sends the whole request and shows the whole answer.
func (s *Studio) playgroundPost(q *request) {
	pf := q.r.PostForm
	p := playgroundPage{Form: playgroundForm{
		Deployment: pf.Get("deployment"), System: pf.Get("system"), Message: pf.Get("message"),
		Temperature: pf.Get("temperature"), MaxTokens: pf.Get("max_tokens"), TopP: pf.Get("top_p"),
		FrequencyPenalty: pf.Get("frequency_penalty"), PresencePenalty: pf.Get("presence_penalty"),
		Stop: pf.Get("stop"), Seed: pf.Get("seed"), ResponseFormat: pf.Get("response_format"),
		Schema: pf.Get("schema"), History: pf.Get("history"),
	}}
	if err := s.loadPlayground(q, &p); err != nil {
		s.fail(q, err)
		return
	}
	if pf.Get("action") == "clear" {
		p.Form.History, p.Form.Message = "", ""
		s.render(q.w, http.StatusOK, "playground", q.view("Playground · "+p.Project.Name, "playground", p))
		return
	}
	status := http.StatusOK
	body, turns, fe := buildChat(p.Form)
	p.Turns = turns
	if fe != nil {
		p.Errors = []formError{*fe}
		status = http.StatusUnprocessableEntity
	} else {
		p.RequestJSON, p.Curl = viewCode(p.Endpoint, body)
		a, err := s.sendChat(q.ctx(), q.api.BaseURL(), p.Key, body)
		if err != nil {
			fe, ok := toFormError(err, map[string]string{"messages": "message", "temperature": "temperature",
				"max_tokens": "max_tokens", "top_p": "top_p", "frequency_penalty": "frequency_penalty",
				"presence_penalty": "presence_penalty", "stop": "stop", "seed": "seed", "response_format": "schema", "model": "deployment"})
			if !ok {
				fe = formError{Message: "The request failed: " + err.Error()}
			}
			p.Errors = []formError{fe}
			status = http.StatusUnprocessableEntity
		} else {
			checkJSON(&a, p.Form)
			p.Answer = &a
			p.Turns = append(p.Turns, turn{Role: "user", Content: p.Form.Message}, turn{Role: "assistant", Content: a.Content})
			hist, _ := json.Marshal(p.Turns)
			p.Form.History, p.Form.Message = string(hist), ""
		}
	}
	s.render(q.w, status, "playground", q.view("Playground · "+p.Project.Name, "playground", p))
}

// buildChat turns the form into a request body, and the conversation so
// far. A number that does not parse is a form error.
func buildChat(f playgroundForm) (chatParams, []turn, *formError) {
	c := chatParams{Model: f.Deployment}
	var turns []turn
	if strings.TrimSpace(f.History) != "" {
		if err := json.Unmarshal([]byte(f.History), &turns); err != nil {
			return c, nil, &formError{Message: "The conversation could not be read; clear it and start again."}
		}
	}
	if f.Deployment == "" {
		return c, turns, &formError{Field: "deployment", Message: "Pick a deployment; deploy a chat model first if there is none."}
	}
	if strings.TrimSpace(f.Message) == "" {
		return c, turns, &formError{Field: "message", Message: "Type a message."}
	}
	if strings.TrimSpace(f.System) != "" {
		c.Messages = append(c.Messages, turn{Role: "system", Content: f.System})
	}
	c.Messages = append(c.Messages, turns...)
	c.Messages = append(c.Messages, turn{Role: "user", Content: f.Message})
	floats := []struct {
		field, text string
		dst         **float64
	}{
		{"temperature", f.Temperature, &c.Temperature}, {"top_p", f.TopP, &c.TopP},
		{"frequency_penalty", f.FrequencyPenalty, &c.FrequencyPenalty}, {"presence_penalty", f.PresencePenalty, &c.PresencePenalty},
	}
	for _, x := range floats {
		if strings.TrimSpace(x.text) == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(x.text), 64)
		if err != nil {
			return c, turns, &formError{Field: x.field, Message: "Enter a number."}
		}
		*x.dst = &v
	}
	if t := strings.TrimSpace(f.MaxTokens); t != "" {
		v, err := strconv.Atoi(t)
		if err != nil {
			return c, turns, &formError{Field: "max_tokens", Message: "Enter a whole number of tokens."}
		}
		c.MaxTokens = &v
	}
	if t := strings.TrimSpace(f.Seed); t != "" {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return c, turns, &formError{Field: "seed", Message: "Enter a whole number."}
		}
		c.Seed = &v
	}
	for _, line := range strings.Split(f.Stop, "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			c.Stop = append(c.Stop, line)
		}
	}
	switch f.ResponseFormat {
	case "", "text":
	case "json_object":
		c.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		var schema any
		if err := json.Unmarshal([]byte(f.Schema), &schema); err != nil {
			return c, turns, &formError{Field: "schema", Message: "The schema is not valid JSON: " + err.Error()}
		}
		rf, _ := json.Marshal(map[string]any{"type": "json_schema",
			"json_schema": map[string]any{"name": "playground", "strict": true, "schema": schema}})
		c.ResponseFormat = rf
	default:
		return c, turns, &formError{Field: "response_format", Message: "Pick text, JSON object or JSON schema."}
	}
	return c, turns, nil
}

// viewCode renders the request as indented JSON and as a curl command.
func viewCode(endpoint string, c chatParams) (string, string) {
	b, _ := json.MarshalIndent(c, "", "  ")
	compact, _ := json.Marshal(c)
	curl := "curl \"" + endpoint + "/openai/v1/chat/completions\" \\\n" +
		"  -H \"Content-Type: application/json\" \\\n" +
		"  -H \"api-key: " + keyPlaceholder + "\" \\\n" +
		"  -d '" + strings.ReplaceAll(string(compact), "'", `'\''`) + "'\n"
	return string(b), curl
}

// sendChat posts c to the inference API at base with key and reads the
// whole answer.
func (s *Studio) sendChat(ctx context.Context, base, key string, c chatParams) (answer, error) {
	c.Stream = false
	body, err := json.Marshal(c)
	if err != nil {
		return answer{}, fmt.Errorf("encode chat request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/openai/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("chat request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	start := s.now()
	resp, err := s.hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("send chat request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return answer{}, fmt.Errorf("read chat answer: %w", err)
	}
	latency := s.now().Sub(start)
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Error *struct {
			Message string          `json:"message"`
			Code    json.RawMessage `json:"code"`
			Param   string          `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return answer{}, fmt.Errorf("chat answer (HTTP %d) is not JSON: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || out.Error != nil {
		e := &api.Error{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		if out.Error != nil {
			e.Message, e.Target, e.Code = out.Error.Message, out.Error.Param, strings.Trim(string(out.Error.Code), `"`)
		}
		if e.Status == http.StatusOK {
			e.Status = http.StatusBadGateway
		}
		return answer{}, e
	}
	if len(out.Choices) == 0 {
		return answer{}, errors.New("the chat answer has no choices")
	}
	return answer{Content: out.Choices[0].Message.Content, FinishReason: out.Choices[0].FinishReason,
		PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens,
		LatencyMS: latency.Milliseconds()}, nil
}

// checkJSON checks the answer in the JSON modes: it must parse, and in
// schema mode match the schema's basic rules.
func checkJSON(a *answer, f playgroundForm) {
	if f.ResponseFormat != "json_object" && f.ResponseFormat != "json_schema" {
		return
	}
	var v any
	if err := json.Unmarshal([]byte(a.Content), &v); err != nil {
		a.JSONNote = "The answer is not valid JSON: " + err.Error()
		if a.FinishReason == "length" {
			a.JSONNote += " (it stopped at max tokens)"
		}
		return
	}
	if f.ResponseFormat == "json_schema" {
		var schema any
		_ = json.Unmarshal([]byte(f.Schema), &schema) // buildChat checked it
		if err := validateSchema(schema, v, "$"); err != nil {
			a.JSONNote = "The answer is JSON but does not match the schema: " + err.Error()
			return
		}
		a.JSONOK, a.JSONNote = true, "The answer is valid JSON and matches the schema."
		return
	}
	a.JSONOK, a.JSONNote = true, "The answer is valid JSON."
}

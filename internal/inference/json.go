package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

var null = []byte("null")

// unquoteSimple decodes the JSON string literal b without a second pass of
// encoding/json when that cannot change the result: no escapes, no control
// characters, valid UTF-8. ok is false for any other input, which the
// caller then hands to json.Unmarshal.
func unquoteSimple(b []byte) (s string, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	ascii := true
	for _, c := range in {
		switch {
		case c < 0x20 || c == '"' || c == '\\':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// UnmarshalJSON reads a string, an array of parts or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("content: empty value")
	case b[0] == '"':
		c.Parts = nil
		if t, ok := unquoteSimple(b); ok {
			c.Text = t
			return nil
		}
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []ContentPart{}
		}
		c.Text, c.Parts = "", parts
		return nil
	}
	return fmt.Errorf("content must be a string or an array of content parts, got %s", kindOf(b))
}

// MarshalJSON writes Text or Parts.
func (c *Content) MarshalJSON() ([]byte, error) {
	if c == nil {
		return null, nil
	}
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON reads a string or an array of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, null):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		one, ok := unquoteSimple(b)
		if !ok {
			if err := json.Unmarshal(b, &one); err != nil {
				return err
			}
		}
		*s = Strings{one}
		return nil
	case len(b) > 0 && b[0] == '[':
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return errors.New("must be a string or an array of strings")
		}
		if many == nil {
			many = []string{}
		}
		*s = many
		return nil
	}
	return fmt.Errorf("must be a string or an array of strings, got %s", kindOf(b))
}

// UnmarshalJSON reads "none", "auto", "required" or
// {"type":"function","function":{"name":...}}.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		mode, ok := unquoteSimple(b)
		if !ok {
			if err := json.Unmarshal(b, &mode); err != nil {
				return err
			}
		}
		*t = ToolChoice{Mode: mode}
		return nil
	}
	if len(b) > 0 && b[0] == '{' {
		var obj struct {
			Type     string `json:"type"`
			Function *struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if obj.Type != "function" || obj.Function == nil || obj.Function.Name == "" {
			return errors.New(`must be "none", "auto", "required" or {"type":"function","function":{"name":"..."}}`)
		}
		*t = ToolChoice{Function: obj.Function.Name}
		return nil
	}
	return fmt.Errorf(`must be "none", "auto", "required" or an object naming a function, got %s`, kindOf(b))
}

// MarshalJSON writes the mode string or the function object.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

// UnmarshalJSON reads a string, an array of strings, an array of token ids
// or an array of arrays of token ids.
func (p *Prompt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*p = Prompt{}
	if len(b) == 0 {
		return errors.New("empty value")
	}
	switch b[0] {
	case '"':
		s, ok := unquoteSimple(b)
		if !ok {
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
		}
		p.Texts = []string{s}
		return nil
	case '[':
		// The first element's opening byte tells the shape; the array is
		// then decoded once, into that shape.
		first := bytes.TrimLeft(b[1:], " \t\r\n")
		switch {
		case len(first) > 0 && first[0] == ']':
			p.Texts = []string{}
		case len(first) > 0 && first[0] == '"':
			var ss []string
			if err := json.Unmarshal(b, &ss); err != nil {
				return errors.New("must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
			}
			p.Texts = ss
		case len(first) > 0 && first[0] == '[':
			var tt [][]int
			if err := json.Unmarshal(b, &tt); err != nil {
				return errors.New("must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
			}
			p.Tokens = tt
		default:
			var t []int
			if err := json.Unmarshal(b, &t); err != nil {
				return errors.New("must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
			}
			p.Tokens = [][]int{t}
		}
		return nil
	}
	return fmt.Errorf("must be a string, an array of strings, an array of token ids or an array of arrays of token ids, got %s", kindOf(b))
}

// MarshalJSON writes the prompt in its simplest form.
func (p Prompt) MarshalJSON() ([]byte, error) {
	switch {
	case len(p.Tokens) == 1:
		return json.Marshal(p.Tokens[0])
	case p.Tokens != nil:
		return json.Marshal(p.Tokens)
	case len(p.Texts) == 1:
		return json.Marshal(p.Texts[0])
	case p.Texts == nil:
		return json.Marshal("")
	}
	return json.Marshal(p.Texts)
}

// Len is the number of prompts.
func (p Prompt) Len() int { return max(len(p.Texts), len(p.Tokens)) }

func kindOf(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// MarshalJSON writes the choice with its message's content as null when
// there is none (an assistant turn that only calls tools), as OpenAI does,
// rather than leaving the field out.
func (c ChatChoice) MarshalJSON() ([]byte, error) {
	type plain ChatChoice
	type message struct {
		Message
		Content *Content `json:"content"`
	}
	return json.Marshal(struct {
		plain
		Message message `json:"message"`
	}{plain(c), message{c.Message, c.Message.Content}})
}

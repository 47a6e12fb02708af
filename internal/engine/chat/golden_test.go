package chat

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files from the current output")

// The golden files for Jinja templates were produced by Python Jinja2 set up
// like Hugging Face (testdata/reference.py); -update rewrites them from the
// Go output, so check a diff after using it.

type caseFile struct {
	Templates map[string]struct {
		File             string   `json:"file"`
		Family           string   `json:"family"`
		BOS              string   `json:"bos"`
		EOS              string   `json:"eos"`
		Conversations    []string `json:"conversations"`
		BuiltinIdentical []string `json:"builtin_identical"`
	} `json:"templates"`
	Conversations map[string]conversation `json:"conversations"`
}

type conversation struct {
	AddGenerationPrompt bool `json:"add_generation_prompt"`
	Messages            []struct {
		Role       string `json:"role"`
		Content    string `json:"content"`
		ToolCallID string `json:"tool_call_id"`
		ToolCalls  []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"tools"`
}

func (c conversation) convert() ([]Message, []Tool) {
	var msgs []Message
	for _, m := range c.Messages {
		msg := Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, ToolCall(tc))
		}
		msgs = append(msgs, msg)
	}
	var tools []Tool
	for _, t := range c.Tools {
		tools = append(tools, Tool(t))
	}
	return msgs, tools
}

func loadCases(t *testing.T) caseFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf caseFile
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	return cf
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestGoldenTemplates renders each reference template with gonja and checks
// it byte for byte against Python Jinja2's output.
func TestGoldenTemplates(t *testing.T) {
	cf := loadCases(t)
	for _, name := range sortedKeys(cf.Templates) {
		spec := cf.Templates[name]
		src, err := os.ReadFile(filepath.Join("testdata", "templates", spec.File))
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Parse(string(src))
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		if got := tpl.Family().String(); got != spec.Family {
			t.Errorf("%s: family %q, want %q", name, got, spec.Family)
		}
		for _, cname := range spec.Conversations {
			t.Run(name+"/"+cname, func(t *testing.T) {
				conv := cf.Conversations[cname]
				msgs, tools := conv.convert()
				got, err := tpl.Render(msgs, tools, Options{
					AddGenerationPrompt: conv.AddGenerationPrompt, BOSToken: spec.BOS, EOSToken: spec.EOS,
				})
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				checkGolden(t, name+"__"+cname+".txt", got)
			})
		}
	}
}

// TestGoldenBuiltins pins each built-in renderer's output and checks that it
// equals the reference template of its family where the formats agree.
func TestGoldenBuiltins(t *testing.T) {
	cf := loadCases(t)
	families := []Family{FamilyChatML, FamilyLlama3, FamilyMistral, FamilyZephyr, FamilyPlain}
	for _, f := range families {
		for _, cname := range sortedKeys(cf.Conversations) {
			t.Run(f.String()+"/"+cname, func(t *testing.T) {
				conv := cf.Conversations[cname]
				msgs, tools := conv.convert()
				got, err := Builtin(f).Render(msgs, tools, Options{AddGenerationPrompt: conv.AddGenerationPrompt})
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				checkGolden(t, "builtin-"+f.String()+"__"+cname+".txt", got)
			})
		}
	}
	for _, name := range sortedKeys(cf.Templates) {
		spec := cf.Templates[name]
		src, err := os.ReadFile(filepath.Join("testdata", "templates", spec.File))
		if err != nil {
			t.Fatal(err)
		}
		for _, cname := range spec.BuiltinIdentical {
			t.Run("identical/"+name+"/"+cname, func(t *testing.T) {
				conv := cf.Conversations[cname]
				msgs, tools := conv.convert()
				want, err := os.ReadFile(filepath.Join("testdata", "golden", name+"__"+cname+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				got, err := Builtin(Detect(string(src))).Render(msgs, tools, Options{
					AddGenerationPrompt: conv.AddGenerationPrompt, BOSToken: spec.BOS, EOSToken: spec.EOS,
				})
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("built-in differs from %s (-template +builtin):\n%s", name, diff)
				}
			})
		}
	}
}

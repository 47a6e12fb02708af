package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// chatOptions are the flags of `cerulean chat`.
type chatOptions struct {
	project    string
	deployment string
	system     string
	verbose    bool
}

// chatSession is one conversation with a deployment.
type chatSession struct {
	a       *app
	c       *api.Client
	key     string
	opts    chatOptions
	req     api.ChatRequest // Temperature and MaxTokens; Messages is the history
	initial int             // messages that /clear keeps (the system prompt)
}

func (a *app) chatCmd() *cobra.Command {
	var o chatOptions
	cmd := &cobra.Command{
		Use:   "chat --project P --deployment D [PROMPT...]",
		Short: "Chat with a deployment",
		Long: `Chat with a deployment through the inference API, with the project's key1.
With a PROMPT, print the answer as it streams in. Without one, read prompts
line by line from stdin and keep the conversation: /clear forgets it, /bye
or end of input leaves.`,
		Example: `  cerulean chat -p demo -d chat "Why is the sky blue?"
  cerulean chat -p demo -d chat --system "Answer in French."`,
		Args: cobra.ArbitraryArgs,
	}
	f := cmd.Flags()
	projectFlag(cmd, &o.project)
	f.StringVarP(&o.deployment, "deployment", "d", "", "deployment name (required)")
	f.StringVar(&o.system, "system", "", "system message")
	temperature := f.Float64("temperature", 0, "sampling temperature, 0 to 2 (default: the server's)")
	maxTokens := f.Int("max-tokens", 0, "most tokens to generate (default: the server's)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print token usage to stderr after each answer")
	_ = cmd.MarkFlagRequired("deployment")

	cmd.RunE = a.run(func(ctx context.Context, c *api.Client, args []string) error {
		s := &chatSession{a: a, c: c, opts: o}
		if f.Changed("temperature") {
			if *temperature < 0 || *temperature > 2 {
				return usagef("--temperature %g: want 0 to 2", *temperature)
			}
			s.req.Temperature = temperature
		}
		if f.Changed("max-tokens") {
			if *maxTokens < 1 {
				return usagef("--max-tokens %d: want at least 1", *maxTokens)
			}
			s.req.MaxTokens = maxTokens
		}
		keys, err := c.ListKeys(ctx, o.project)
		if err != nil {
			return fmt.Errorf("get the key of project %s: %w", o.project, err)
		}
		s.key = keys.Key1
		if o.system != "" {
			s.req.Messages = append(s.req.Messages, api.ChatMessage{Role: "system", Content: o.system})
			s.initial = 1
		}
		if len(args) > 0 {
			_, err := s.turn(ctx, strings.Join(args, " "))
			return err
		}
		return s.loop(ctx)
	})
	return cmd
}

// turn sends prompt with the history so far, prints the answer (streamed
// in table mode, as one JSON object with -o json) and adds both to the
// history.
func (s *chatSession) turn(ctx context.Context, prompt string) (api.ChatResult, error) {
	out := s.a.env.Stdout
	s.req.Messages = append(s.req.Messages, api.ChatMessage{Role: "user", Content: prompt})
	var onDelta func(string)
	if s.a.output != "json" {
		onDelta = func(d string) { io.WriteString(out, d) }
	}
	res, err := s.c.Chat(ctx, s.key, s.opts.deployment, s.req, onDelta)
	if onDelta != nil && res.Content != "" && !strings.HasSuffix(res.Content, "\n") {
		io.WriteString(out, "\n")
	}
	if err != nil {
		s.req.Messages = s.req.Messages[:len(s.req.Messages)-1]
		return res, fmt.Errorf("chat with deployment %s: %w", s.opts.deployment, err)
	}
	s.req.Messages = append(s.req.Messages, api.ChatMessage{Role: "assistant", Content: res.Content})
	if s.a.output == "json" {
		if err := writeJSON(out, res); err != nil {
			return res, err
		}
	}
	if s.opts.verbose {
		fmt.Fprintf(s.a.env.Stderr, "prompt tokens: %d, completion tokens: %d, total tokens: %d, finish reason: %s\n",
			res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens, orDash(res.FinishReason))
	}
	return res, nil
}

// loop reads prompts from stdin until /bye or end of input. An error the
// server answered with is printed and the conversation goes on; any other
// error ends it.
func (s *chatSession) loop(ctx context.Context) error {
	in := bufio.NewReader(s.a.env.Stdin)
	stderr := s.a.env.Stderr
	for {
		fmt.Fprint(stderr, ">>> ")
		line, readErr := in.ReadString('\n')
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("read prompt: %w", readErr)
		}
		switch prompt := strings.TrimSpace(line); prompt {
		case "":
		case "/bye":
			return nil
		case "/clear":
			s.req.Messages = s.req.Messages[:s.initial]
			fmt.Fprintln(stderr, "Cleared the conversation.")
		default:
			_, err := s.turn(ctx, prompt)
			var apiErr *api.Error
			switch {
			case errors.As(err, &apiErr):
				fmt.Fprintln(stderr, "Error: "+s.a.message(err))
			case err != nil:
				return err
			}
		}
		if readErr == io.EOF {
			fmt.Fprintln(stderr)
			return nil
		}
	}
}

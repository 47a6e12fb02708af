package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// logsPageSize is how many entries the logs command asks for at a time.
const logsPageSize = 100

// logsCmd is `cerulean logs`: a project's captured requests, and the
// switches that turn capture on and off per deployment.
func (a *app) logsCmd() *cobra.Command {
	var (
		project, deployment, since string
		follow                     bool
		interval                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "logs --project P [--deployment D] [--since 1h|RFC3339] [-f]",
		Short: "Show the requests captured by deployments whose request logging is on",
		Long: `Show the requests captured by deployments whose request logging is on, oldest
first: time, deployment, status, tokens, latency and request id, then the
request and response bodies (secrets scrubbed; cut here to one line each).
With -o json each entry is one JSON object per line, bodies whole.
With -f the command keeps polling every second and prints new entries as
they come, until interrupted.

Logging is off by default; turn it on with 'cerulean logs enable'.`,
		Args: cobra.NoArgs,
	}
	projectFlag(cmd, &project)
	f := cmd.Flags()
	f.StringVarP(&deployment, "deployment", "d", "", "only this deployment's requests")
	f.StringVar(&since, "since", "", "only requests since this time: a duration before now (30m, 1h) or an RFC 3339 time")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new requests as they come, until interrupted")
	f.DurationVar(&interval, "poll-interval", time.Second, "how often -f asks for new requests")
	_ = f.MarkHidden("poll-interval")
	cmd.RunE = a.run(func(ctx context.Context, c *api.Client, _ []string) error {
		q := api.LogQuery{Deployment: deployment, Limit: logsPageSize}
		if since != "" {
			t, err := parseSinceFlag(since, time.Now())
			if err != nil {
				return err
			}
			q.Since = t
		}
		if interval <= 0 {
			return usagef("--poll-interval %v: want a positive duration", interval)
		}
		p := &logPrinter{w: a.env.Stdout, json: a.output == "json"}
		for {
			page, err := c.ListLogs(ctx, project, q)
			if err != nil {
				return fmt.Errorf("list logs of project %s: %w", project, err)
			}
			if err := p.print(page.Value); err != nil {
				return err
			}
			if page.Next != "" {
				q.After = page.Next
			}
			if page.HasMore {
				continue
			}
			if !follow {
				if p.n == 0 && !p.json {
					a.progress("No requests logged. Request logging is off unless turned on with 'cerulean logs enable'.")
				}
				return nil
			}
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	})
	cmd.AddCommand(a.logsSwitchCmd(true), a.logsSwitchCmd(false), a.logsSettingsCmd())
	return cmd
}

// parseSinceFlag reads --since: an RFC 3339 time or a duration before now.
func parseSinceFlag(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--since %q: want a duration before now (30m, 1h) or an RFC 3339 time (2025-01-02T15:04:05Z)", s)
}

// logsSwitchCmd is `cerulean logs enable` (on) or `cerulean logs disable`.
func (a *app) logsSwitchCmd(on bool) *cobra.Command {
	var project, deployment string
	var days int
	use, short := "disable --project P --deployment D", "Stop capturing a deployment's requests (what was captured stays until its retention ends)"
	if on {
		use, short = "enable --project P --deployment D [--retention-days N]", "Capture a deployment's request and response bodies, kept for --retention-days"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
	}
	projectFlag(cmd, &project)
	cmd.Flags().StringVarP(&deployment, "deployment", "d", "", "deployment name (required)")
	_ = cmd.MarkFlagRequired("deployment")
	if on {
		cmd.Flags().IntVar(&days, "retention-days", 7, "days to keep captured requests (1 to 365)")
	}
	cmd.RunE = a.run(func(ctx context.Context, c *api.Client, _ []string) error {
		s := api.LogSettings{Enabled: on}
		if on {
			if days < 1 || days > 365 {
				return usagef("--retention-days %d: want 1 to 365", days)
			}
			s.RetentionDays = days
		} else {
			// Keep the retention that applies to what was captured.
			cur, err := c.GetLogSettings(ctx, project, deployment)
			if err != nil {
				return fmt.Errorf("get logging of deployment %s: %w", deployment, err)
			}
			s.RetentionDays = cur.RetentionDays
		}
		got, err := c.SetLogSettings(ctx, project, deployment, s)
		if err != nil {
			return fmt.Errorf("set logging of deployment %s: %w", deployment, err)
		}
		if a.output == "json" {
			return writeJSON(a.env.Stdout, got)
		}
		if got.Enabled {
			a.done("Request logging of deployment %s is on; captured requests are kept %s.", deployment, plural(got.RetentionDays, "day"))
		} else {
			a.done("Request logging of deployment %s is off.", deployment)
		}
		return nil
	})
	return cmd
}

// logsSettingsCmd is `cerulean logs settings`: a deployment's logging.
func (a *app) logsSettingsCmd() *cobra.Command {
	var project, deployment string
	cmd := &cobra.Command{
		Use:   "settings --project P --deployment D",
		Short: "Show whether a deployment's request logging is on, and its retention",
		Args:  cobra.NoArgs,
	}
	projectFlag(cmd, &project)
	cmd.Flags().StringVarP(&deployment, "deployment", "d", "", "deployment name (required)")
	_ = cmd.MarkFlagRequired("deployment")
	cmd.RunE = a.run(func(ctx context.Context, c *api.Client, _ []string) error {
		s, err := c.GetLogSettings(ctx, project, deployment)
		if err != nil {
			return fmt.Errorf("get logging of deployment %s: %w", deployment, err)
		}
		return a.print(s, func(w io.Writer) {
			field(w, "Deployment", deployment)
			state := "off"
			if s.Enabled {
				state = "on"
			}
			field(w, "Logging", state)
			field(w, "Retention", plural(s.RetentionDays, "day"))
			field(w, "Updated", timeCell(s.UpdatedAt))
		})
	})
	return cmd
}

// plural writes n and a noun, adding "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// logPrinter prints log entries as they come: a table (header once) or
// JSON lines.
type logPrinter struct {
	w    io.Writer
	json bool
	n    int // entries printed
}

// bodyWidth is how many characters of a body a table line shows.
const bodyWidth = 160

func (p *logPrinter) print(logs []api.RequestLog) error {
	var b strings.Builder
	for _, l := range logs {
		if p.json {
			j, err := json.Marshal(l)
			if err != nil {
				return fmt.Errorf("encode output: %w", err)
			}
			b.Write(j)
			b.WriteByte('\n')
			p.n++
			continue
		}
		if p.n == 0 {
			fmt.Fprintf(&b, "%-20s  %-16s  %-6s  %-11s  %-9s  %s\n", "TIME", "DEPLOYMENT", "STATUS", "TOKENS", "LATENCY", "REQUEST ID")
		}
		p.n++
		status := strconv.Itoa(l.Status)
		if l.ErrorCode != "" {
			status += " " + l.ErrorCode
		}
		fmt.Fprintf(&b, "%-20s  %-16s  %-6s  %-11s  %-9s  %s\n", l.Time.UTC().Format(time.RFC3339), l.Deployment, status,
			fmt.Sprintf("%d+%d", l.PromptTokens, l.CompletionTokens), latencyCell(l.LatencyMS), l.RequestID)
		if l.Request != "" {
			fmt.Fprintf(&b, "  > %s\n", oneLine(l.Request, bodyWidth))
		}
		if l.Response != "" {
			fmt.Fprintf(&b, "  < %s\n", oneLine(l.Response, bodyWidth))
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := io.WriteString(p.w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// latencyCell shows milliseconds under a second, else seconds.
func latencyCell(ms float64) string {
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
}

// oneLine is s on one line, cut at n characters with an ellipsis.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

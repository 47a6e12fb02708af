package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// usageCmd is `cerulean usage`: a project's or a hub's usage and cost.
func (a *app) usageCmd() *cobra.Command {
	var projectName, hubName, since, until, by string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show the usage and cost of a project or a hub",
		Long: `Show the usage and cost of a project (--project) or of all of a hub's
projects (--hub), grouped by deployment, key, model, day, sku or project.
The window defaults to the current month (UTC); --since and --until take
RFC 3339 times or dates (2025-03-01).`,
		Example: `  cerulean usage --project demo
  cerulean usage --project demo --by day --since 2025-03-01
  cerulean usage --hub default --by project -o json`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			if (projectName == "") == (hubName == "") {
				return usagef("give --project or --hub (one of them)")
			}
			o := api.UsageOptions{By: by}
			switch by {
			case api.UsageByDeployment, api.UsageByKey, api.UsageByModel, api.UsageByDay, api.UsageBySKU, api.UsageByProject:
			default:
				return usagef("--by %q: want deployment, key, model, day, sku or project", by)
			}
			var err error
			if o.Since, err = parseWhen("since", since); err != nil {
				return err
			}
			if o.Until, err = parseWhen("until", until); err != nil {
				return err
			}
			var rep api.UsageReport
			if projectName != "" {
				if rep, err = c.ProjectUsage(ctx, projectName, o); err != nil {
					return fmt.Errorf("usage of project %s: %w", projectName, err)
				}
			} else if rep, err = c.HubUsage(ctx, hubName, o); err != nil {
				return fmt.Errorf("usage of hub %s: %w", hubName, err)
			}
			if rep.Value == nil {
				rep.Value = []api.UsageRow{}
			}
			return a.print(rep, func(w io.Writer) { usageTable(w, rep) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&projectName, "project", "", "the project to report on")
	f.StringVar(&hubName, "hub", "", "the hub to report on (all its projects)")
	f.StringVar(&since, "since", "", "start of the window, inclusive (RFC 3339 or YYYY-MM-DD; default: start of this month)")
	f.StringVar(&until, "until", "", "end of the window, exclusive (RFC 3339 or YYYY-MM-DD; default: end of this month)")
	f.StringVar(&by, "by", api.UsageByDeployment, "group by deployment, key, model, day, sku or project")
	return cmd
}

// parseWhen reads a --since or --until value: RFC 3339 or a date.
func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time (2025-03-01T00:00:00Z) or a date (2025-03-01)", flag, s)
}

func usageTable(w io.Writer, rep api.UsageReport) {
	scope := "hub " + rep.Hub
	if rep.Project != "" {
		scope = "project " + rep.Project
	}
	fmt.Fprintf(w, "Usage of %s from %s to %s, by %s\n\n", scope, timeCell(rep.Since), timeCell(rep.Until), rep.By)
	row(w, upper(rep.By), "REQUESTS", "PROMPT", "COMPLETION", "CACHED", "TOTAL", "PTU-HOURS", "REPLICA-HOURS", "COST", "ERRORS", "THROTTLED")
	line := func(group string, r api.UsageRow) {
		row(w, group, i64(r.Requests), i64(r.PromptTokens), i64(r.CompletionTokens), i64(r.CachedTokens), i64(r.TotalTokens),
			hours(r.PTUHours), hours(r.ReplicaHours), price(r.Cost), i64(r.Errors), i64(r.Throttled))
	}
	for _, r := range rep.Value {
		line(orDash(r.Group), r)
	}
	line("TOTAL", rep.Total)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// hours shows hours to 1/1000.
func hours(h float64) string { return strconv.FormatFloat(h, 'f', 3, 64) }

// upper is the grouping as a column title.
func upper(by string) string {
	b := []byte(by)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

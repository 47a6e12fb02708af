package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// scopeFlags are --project and --hub, exactly one of which names whose
// budgets or alerts a command is about.
type scopeFlags struct{ project, hub string }

func (s *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.project, "project", "", "the project")
	cmd.Flags().StringVar(&s.hub, "hub", "", "the hub (all its projects)")
}

func (s *scopeFlags) scope() (api.Scope, error) {
	if (s.project == "") == (s.hub == "") {
		return api.Scope{}, usagef("give --project or --hub (one of them)")
	}
	return api.Scope{Project: s.project, Hub: s.hub}, nil
}

// budgetCmd is `cerulean budget`.
func (a *app) budgetCmd() *cobra.Command {
	return group("budget", "Manage monthly spending budgets of projects and hubs", []string{"budgets"},
		a.budgetCreateCmd(), a.budgetListCmd(), a.budgetShowCmd(), a.budgetDeleteCmd())
}

func (a *app) budgetCreateCmd() *cobra.Command {
	var sf scopeFlags
	var name, thresholds string
	var amount float64
	var hard, replace bool
	var webhooks []string
	var secret string
	cmd := &cobra.Command{
		Use:   "create --project P|--hub H --name N --amount 100 [--thresholds 50,80,100] [--hard] [--webhook URL]",
		Short: "Create (or with --replace, replace) a monthly budget",
		Long: `Create a monthly budget in currency units for a project or for all of a hub's
projects. Each threshold (percent of the amount) fires once a month, recorded
in the alert history and posted to the webhooks. A --hard budget refuses
requests (429 budget_exceeded) once the month's spend reaches the amount.`,
		Example: `  cerulean budget create --project demo --name monthly --amount 100 --thresholds 50,80,100 --hard
  cerulean budget create --hub default --name org --amount 5000 --webhook https://hooks.example/cerulean`,
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			if name == "" {
				return usagef("give the budget a --name")
			}
			if amount <= 0 {
				return usagef("--amount must be above 0")
			}
			b := api.Budget{Name: name, Amount: amount, Hard: hard}
			for _, p := range splitList(thresholds) {
				v, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
				if err != nil {
					return usagef("--thresholds %q: want percents such as 50,80,100", thresholds)
				}
				b.Thresholds = append(b.Thresholds, v)
			}
			for _, u := range webhooks {
				b.Webhooks = append(b.Webhooks, api.Webhook{URL: u, Secret: secret})
			}
			if replace {
				b, err = c.PutBudget(ctx, s, b)
			} else {
				b, err = c.CreateBudget(ctx, s, b)
			}
			if err != nil {
				return fmt.Errorf("create budget %s: %w", name, err)
			}
			return a.print(b, func(w io.Writer) { budgetDetail(w, b) })
		}),
	}
	sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the budget's name")
	f.Float64Var(&amount, "amount", 0, "the monthly amount, in currency units")
	f.StringVar(&thresholds, "thresholds", "", "percents of the amount that notify, comma-separated (default 50,80,100)")
	f.BoolVar(&hard, "hard", false, "refuse requests once the amount is spent")
	f.StringArrayVar(&webhooks, "webhook", nil, "a URL to POST notifications to (repeatable)")
	f.StringVar(&secret, "webhook-secret", "", "sign webhook bodies with this secret (X-Cerulean-Signature)")
	f.BoolVar(&replace, "replace", false, "replace the budget if it exists")
	return cmd
}

func (a *app) budgetListCmd() *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "list --project P|--hub H",
		Short: "List budgets with this month's spend",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			bs, err := c.ListBudgets(ctx, s)
			if err != nil {
				return fmt.Errorf("list budgets: %w", err)
			}
			if bs == nil {
				bs = []api.Budget{}
			}
			return a.print(bs, func(w io.Writer) {
				row(w, "NAME", "AMOUNT", "SPEND", "PERCENT", "THRESHOLDS", "HARD", "PERIOD")
				for _, b := range bs {
					row(w, b.Name, price(b.Amount), price(b.Spend), price(b.Percent)+"%", thresholdList(b.Thresholds),
						strconv.FormatBool(b.Hard), b.Period)
				}
			})
		}),
	}
	sf.add(cmd)
	return cmd
}

func (a *app) budgetShowCmd() *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "show NAME --project P|--hub H",
		Short: "Show a budget with this month's spend",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			b, err := c.GetBudget(ctx, s, args[0])
			if err != nil {
				return fmt.Errorf("budget %s: %w", args[0], err)
			}
			return a.print(b, func(w io.Writer) { budgetDetail(w, b) })
		}),
	}
	sf.add(cmd)
	return cmd
}

func (a *app) budgetDeleteCmd() *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "delete NAME --project P|--hub H",
		Short: "Delete a budget",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			if err := c.DeleteBudget(ctx, s, args[0]); err != nil {
				return fmt.Errorf("delete budget %s: %w", args[0], err)
			}
			a.done("Deleted budget %s.", args[0])
			return nil
		}),
	}
	sf.add(cmd)
	return cmd
}

func budgetDetail(w io.Writer, b api.Budget) {
	field(w, "Name", b.Name)
	if b.Project != "" {
		field(w, "Project", b.Project)
	} else {
		field(w, "Hub", b.Hub)
	}
	field(w, "Amount", price(b.Amount))
	field(w, "Period", b.Period)
	field(w, "Spend", fmt.Sprintf("%s (%s%%)", price(b.Spend), price(b.Percent)))
	field(w, "Thresholds", thresholdList(b.Thresholds))
	field(w, "Hard", strconv.FormatBool(b.Hard))
	field(w, "Exceeded", strconv.FormatBool(b.Exceeded))
	field(w, "Webhooks", webhookList(b.Webhooks))
}

func thresholdList(ths []float64) string {
	var s []string
	for _, t := range ths {
		s = append(s, price(t)+"%")
	}
	return strings.Join(s, ",")
}

func webhookList(ws []api.Webhook) string {
	var s []string
	for _, w := range ws {
		if w.HasSecret {
			s = append(s, w.URL+" (signed)")
		} else {
			s = append(s, w.URL)
		}
	}
	return strings.Join(s, ", ")
}

// alertCmd is `cerulean alert`.
func (a *app) alertCmd() *cobra.Command {
	rule := group("rule", "Manage alert rules on request metrics", []string{"rules"},
		a.alertRuleCreateCmd(), a.alertRuleListCmd(), a.alertRuleDeleteCmd())
	return group("alert", "Manage alert rules and show the alert history", []string{"alerts"}, rule, a.alertHistoryCmd())
}

func (a *app) alertRuleCreateCmd() *cobra.Command {
	var sf scopeFlags
	var r api.AlertRule
	var webhooks []string
	var secret string
	var replace bool
	cmd := &cobra.Command{
		Use:   "create --project P|--hub H --name N --metric M --comparator '>' --threshold X --window 5m",
		Short: "Create (or with --replace, replace) an alert rule",
		Long: `Create an alert rule: it fires when a metric of the requests of the last
--window compares to --threshold, and resolves when it no longer does. Metrics:
rate_429 and error_rate (percent of requests answered 429 or 5xx),
p95_latency_ms, requests.`,
		Example: `  cerulean alert rule create --project demo --name throttled --metric rate_429 --comparator '>' --threshold 5 --window 5m --cooldown 30m --webhook https://hooks.example/x`,
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			if r.Name == "" || r.Metric == "" {
				return usagef("give the rule a --name and a --metric")
			}
			for _, u := range webhooks {
				r.Webhooks = append(r.Webhooks, api.Webhook{URL: u, Secret: secret})
			}
			var out api.AlertRule
			if replace {
				out, err = c.PutAlertRule(ctx, s, r)
			} else {
				out, err = c.CreateAlertRule(ctx, s, r)
			}
			if err != nil {
				return fmt.Errorf("create alert rule %s: %w", r.Name, err)
			}
			return a.print(out, func(w io.Writer) { rulesTable(w, []api.AlertRule{out}) })
		}),
	}
	sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&r.Name, "name", "", "the rule's name")
	f.StringVar(&r.Deployment, "deployment", "", "watch only this deployment (project rules)")
	f.StringVar(&r.Metric, "metric", "", "rate_429, error_rate, p95_latency_ms or requests")
	f.StringVar(&r.Comparator, "comparator", ">", "> or <")
	f.Float64Var(&r.Threshold, "threshold", 0, "the value to compare to")
	f.StringVar(&r.Window, "window", "5m", "the sliding window (1m to 24h)")
	f.StringVar(&r.Cooldown, "cooldown", "", "the least time between two firings (e.g. 30m)")
	f.StringArrayVar(&webhooks, "webhook", nil, "a URL to POST notifications to (repeatable)")
	f.StringVar(&secret, "webhook-secret", "", "sign webhook bodies with this secret (X-Cerulean-Signature)")
	f.BoolVar(&replace, "replace", false, "replace the rule if it exists (keeping its state)")
	return cmd
}

func (a *app) alertRuleListCmd() *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "list --project P|--hub H",
		Short: "List alert rules and their state",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			rs, err := c.ListAlertRules(ctx, s)
			if err != nil {
				return fmt.Errorf("list alert rules: %w", err)
			}
			if rs == nil {
				rs = []api.AlertRule{}
			}
			return a.print(rs, func(w io.Writer) { rulesTable(w, rs) })
		}),
	}
	sf.add(cmd)
	return cmd
}

func (a *app) alertRuleDeleteCmd() *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "delete NAME --project P|--hub H",
		Short: "Delete an alert rule",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			if err := c.DeleteAlertRule(ctx, s, args[0]); err != nil {
				return fmt.Errorf("delete alert rule %s: %w", args[0], err)
			}
			a.done("Deleted alert rule %s.", args[0])
			return nil
		}),
	}
	sf.add(cmd)
	return cmd
}

func rulesTable(w io.Writer, rs []api.AlertRule) {
	row(w, "NAME", "DEPLOYMENT", "CONDITION", "WINDOW", "COOLDOWN", "STATE", "LAST VALUE", "SINCE")
	for _, r := range rs {
		row(w, r.Name, orDash(r.Deployment), r.Metric+" "+r.Comparator+" "+price(r.Threshold), r.Window, orDash(r.Cooldown),
			r.State, price(r.LastValue), timeCell(r.StateSince))
	}
}

func (a *app) alertHistoryCmd() *cobra.Command {
	var sf scopeFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "history --project P|--hub H [--limit N]",
		Short: "Show the alert history, newest first",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			s, err := sf.scope()
			if err != nil {
				return err
			}
			if limit < 0 || limit > 1000 {
				return usagef("--limit must be 1 to 1000")
			}
			evs, err := c.ListAlerts(ctx, s, limit)
			if err != nil {
				return fmt.Errorf("alert history: %w", err)
			}
			if evs == nil {
				evs = []api.AlertEvent{}
			}
			return a.print(evs, func(w io.Writer) {
				row(w, "TIME", "TYPE", "NAME", "VALUE", "THRESHOLD", "MESSAGE")
				for _, e := range evs {
					row(w, timeCell(e.Time), e.Type, e.Name, price(e.Value), price(e.Threshold), e.Message)
				}
			})
		}),
	}
	sf.add(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many entries (default 100)")
	return cmd
}

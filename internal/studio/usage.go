package studio

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

// usagePage is a project's usage and cost over the last days, and the
// totals of one deployment when the page is about one.
type usagePage struct {
	Project     api.Project
	Deployment  string
	Enabled     bool // the server reports usage
	Days        int
	Since       time.Time
	Until       time.Time
	Daily       []api.UsageRow // one per day, oldest first, zero rows included
	ByDep       []api.UsageRow
	Total       api.UsageRow
	DepTotal    *api.UsageRow // the deployment's row, when Deployment is set
	Charts      []Chart
	RangeChoice []int
	Budgets     []budgetView // the project's, this month
}

// usageDays bounds the range a usage page shows.
func usageDays(s string) int {
	switch n, _ := strconv.Atoi(s); {
	case n == 30:
		return 30
	case n == 1:
		return 1
	}
	return 7
}

// usage shows usage and cost as SVG charts and tables; ?format=csv gives
// the daily table as CSV. A server without the usage API shows a page that
// says so.
func (s *Studio) usage(q *request) {
	qs := q.r.URL.Query()
	p := usagePage{Deployment: qs.Get("deployment"), Days: usageDays(qs.Get("days")), RangeChoice: []int{1, 7, 30}}
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), q.r.PathValue("project")); err != nil {
		s.fail(q, err)
		return
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	p.Since, p.Until = today.AddDate(0, 0, 1-p.Days), today.AddDate(0, 0, 1)
	byDay, err := q.api.ProjectUsage(q.ctx(), p.Project.Name, api.UsageOptions{Since: p.Since, Until: p.Until, By: api.UsageByDay})
	if status, ok := apiStatus(err); ok && (status == http.StatusNotFound || status == http.StatusNotImplemented) {
		if qs.Get("format") == "csv" {
			http.Error(q.w, "usage reporting is not enabled on this server", http.StatusNotFound)
			return
		}
		s.render(q.w, http.StatusOK, "usage", q.view("Usage & cost · "+p.Project.Name, "usage", p))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	byDep, err := q.api.ProjectUsage(q.ctx(), p.Project.Name, api.UsageOptions{Since: p.Since, Until: p.Until, By: api.UsageByDeployment})
	if err != nil {
		s.fail(q, err)
		return
	}
	p.Enabled = true
	p.Daily = fillDays(byDay.Value, p.Since, p.Days)
	p.ByDep, p.Total = byDep.Value, byDay.Total
	for i := range p.ByDep {
		if p.ByDep[i].Group == p.Deployment && p.Deployment != "" {
			p.DepTotal = &p.ByDep[i]
		}
	}
	if qs.Get("format") == "csv" {
		writeUsageCSV(q.w, p)
		return
	}
	p.Charts = usageCharts(p.Daily)
	p.Budgets = s.projectBudgets(q, p.Project.Name)
	s.render(q.w, http.StatusOK, "usage", q.view("Usage & cost · "+p.Project.Name, "usage", p))
}

// fillDays returns one row per day from since, with the report's rows
// where it has them (their group is the day, YYYY-MM-DD) and zeros
// elsewhere.
func fillDays(rows []api.UsageRow, since time.Time, days int) []api.UsageRow {
	byDay := make(map[string]api.UsageRow, len(rows))
	for _, r := range rows {
		byDay[dayKey(r.Group)] = r
	}
	out := make([]api.UsageRow, days)
	for i := range out {
		d := since.AddDate(0, 0, i).Format(time.DateOnly)
		out[i] = byDay[d]
		out[i].Group = d
	}
	return out
}

// dayKey normalizes a day group (a date, or a timestamp) to YYYY-MM-DD.
func dayKey(g string) string {
	if t, err := time.Parse(time.RFC3339, g); err == nil {
		return t.UTC().Format(time.DateOnly)
	}
	if len(g) > 10 {
		return g[:10]
	}
	return g
}

// usageCharts draws requests and 429s, tokens, and cost per day.
func usageCharts(daily []api.UsageRow) []Chart {
	labels := make([]string, len(daily))
	req, thr, prompt, compl, cost := make([]float64, len(daily)), make([]float64, len(daily)), make([]float64, len(daily)), make([]float64, len(daily)), make([]float64, len(daily))
	for i, r := range daily {
		labels[i] = r.Group[5:] // MM-DD
		req[i], thr[i] = float64(r.Requests), float64(r.Throttled)
		prompt[i], compl[i], cost[i] = float64(r.PromptTokens), float64(r.CompletionTokens), r.Cost
	}
	span := fmt.Sprintf("%d days from %s to %s", len(daily), daily[0].Group, daily[len(daily)-1].Group)
	return []Chart{
		{ID: "chart-requests", Kind: "bar", Title: "Requests and 429s per day", Unit: "requests", Labels: labels,
			Desc:   "Bar chart of requests and throttled (429) responses per day over " + span + ".",
			Series: []Series{{Name: "requests", Values: req}, {Name: "429s", Values: thr}}},
		{ID: "chart-tokens", Title: "Tokens per day", Unit: "tokens", Labels: labels,
			Desc:   "Line chart of prompt and completion tokens per day over " + span + ".",
			Series: []Series{{Name: "prompt", Values: prompt}, {Name: "completion", Values: compl}}},
		{ID: "chart-cost", Title: "Cost per day", Unit: "$", Labels: labels,
			Desc:   "Line chart of the cost in dollars per day over " + span + ".",
			Series: []Series{{Name: "cost", Values: cost}}},
	}
}

// writeUsageCSV writes the daily table as CSV.
func writeUsageCSV(w http.ResponseWriter, p usagePage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s-%s.csv"`, p.Project.Name, p.Since.Format("20060102")))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"day", "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens",
		"ptu_hours", "replica_hours", "cost_usd", "errors", "throttled_429"})
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range p.Daily {
		_ = cw.Write([]string{r.Group, i64(r.Requests), i64(r.PromptTokens), i64(r.CompletionTokens), i64(r.CachedTokens),
			i64(r.TotalTokens), f(r.PTUHours), f(r.ReplicaHours), f(r.Cost), i64(r.Errors), i64(r.Throttled)})
	}
	cw.Flush()
}

// projectBudgets are a project's budgets for the usage page. The page is
// about usage: a server without budgets, or a failure to list them, shows
// no bars rather than failing the page.
func (s *Studio) projectBudgets(q *request, project string) []budgetView {
	bs, err := q.api.ListBudgets(q.ctx(), api.Scope{Project: project})
	if err != nil {
		if !notAvailable(err) {
			s.log.Warn("studio: list budgets for the usage page", "project", project, "err", err)
		}
		return nil
	}
	return budgetViews(bs)
}

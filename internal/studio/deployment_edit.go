package studio

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

// deploymentEdit is the deployment settings form, as typed.
type deploymentEdit struct {
	Capacity, InstanceType, Version, Upgrade string
	ScaleToZero                              bool
}

// logForm is the request-log capture form, as typed.
type logForm struct {
	Enabled bool
	Days    string
}

// logTail is how many request logs the deployment page shows.
const logTail = 20

// editFields maps the API's error targets to the settings form.
func editFields() map[string]string {
	return map[string]string{
		"capacity": "capacity", "sku.capacity": "capacity", "version": "version", "model.version": "version",
		"versionUpgradeOption": "upgrade", "instanceType": "instanceType", "properties.instanceType": "instanceType",
		"scaleToZero": "scaleToZero", "properties.scaleToZero": "scaleToZero",
	}
}

// isManagedCompute reports whether a deployment type runs its own replicas.
func isManagedCompute(sku string) bool { return sku == "ManagedCompute" }

// loadDeploymentSettings fills the settings form's choices and, unless it
// was posted back, its values from the deployment.
func (s *Studio) loadDeploymentSettings(q *request, p *deploymentPage) error {
	d := p.Deployment
	m, err := q.api.GetModel(q.ctx(), d.Model.Name)
	switch status, _ := apiStatus(err); {
	case err == nil:
		p.Versions = m.Versions
	case status == http.StatusNotFound: // the model left the catalog: keep what runs
		p.Versions = []api.ModelVersion{{Version: d.Model.Version}}
	default:
		return err
	}
	p.Upgrades = upgradeOptions()
	if isManagedCompute(d.SKU.Name) {
		if p.InstanceTypes, err = q.api.ListInstanceTypes(q.ctx(), p.Project.Hub); err != nil {
			return err
		}
	}
	if p.EditErrors == nil {
		p.Edit = deploymentEdit{Capacity: strconv.Itoa(d.SKU.Capacity), InstanceType: d.InstanceType,
			Version: d.Model.Version, Upgrade: d.VersionUpgradeOption, ScaleToZero: d.ScaleToZero}
	}
	return nil
}

// loadRequestLogs fills the capture settings and the last logs of the
// deployment; a server without the logs API leaves LogsOn false.
func (s *Studio) loadRequestLogs(q *request, p *deploymentPage) error {
	var err error
	p.Logging, err = q.api.GetLogSettings(q.ctx(), p.Project.Name, p.Deployment.Name)
	if notAvailable(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p.LogsOn = true
	if p.LogErrors == nil {
		p.LogForm = logForm{Enabled: p.Logging.Enabled, Days: strconv.Itoa(p.Logging.RetentionDays)}
		if p.Logging.RetentionDays <= 0 {
			p.LogForm.Days = "7"
		}
	}
	p.Logs, err = s.lastLogs(q, p.Project.Name, p.Deployment.Name)
	return err
}

// lastLogs returns the newest logTail request logs of a deployment, newest
// first. The API lists logs oldest first from a time, so it looks back an
// hour, then a day, then the whole retention, paging through each window
// (at most maxLogPages pages of 1,000) and keeping the tail.
func (s *Studio) lastLogs(q *request, project, deployment string) ([]api.RequestLog, error) {
	const maxLogPages = 5
	now := s.now()
	var tail []api.RequestLog
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 0} {
		lq := api.LogQuery{Deployment: deployment, Limit: 1000}
		if back > 0 {
			lq.Since = now.Add(-back)
		}
		tail = tail[:0]
		for range maxLogPages {
			page, err := q.api.ListLogs(q.ctx(), project, lq)
			if err != nil {
				return nil, err
			}
			tail = append(tail, page.Value...)
			if len(tail) > logTail {
				tail = append(tail[:0], tail[len(tail)-logTail:]...)
			}
			if !page.HasMore || page.Next == "" {
				break
			}
			lq.After = page.Next
		}
		if len(tail) >= logTail {
			break
		}
	}
	out := make([]api.RequestLog, len(tail))
	for i, l := range tail {
		out[len(tail)-1-i] = l
	}
	return out, nil
}

// updateDeployment posts the settings form: only what changed is sent.
func (s *Studio) updateDeployment(q *request) {
	pname, dname := q.r.PathValue("project"), q.r.PathValue("deployment")
	pf := q.r.PostForm
	e := deploymentEdit{Capacity: strings.TrimSpace(pf.Get("capacity")), InstanceType: pf.Get("instanceType"),
		Version: pf.Get("version"), Upgrade: pf.Get("upgrade"), ScaleToZero: pf.Get("scaleToZero") == "on"}
	again := func(fe formError) {
		s.deploymentWith(q, http.StatusUnprocessableEntity, deploymentPage{Edit: e, EditErrors: []formError{fe}})
	}
	d, err := q.api.GetDeployment(q.ctx(), pname, dname)
	if err != nil {
		s.fail(q, err)
		return
	}
	capacity, err := strconv.Atoi(e.Capacity)
	if err != nil {
		again(formError{Field: "capacity", Message: "Enter a whole number, such as 10."})
		return
	}
	var u api.DeploymentUpdate
	if capacity != d.SKU.Capacity {
		u.Capacity = &capacity
	}
	if e.Version != "" && e.Version != d.Model.Version {
		u.Version = &e.Version
	}
	if e.Upgrade != "" && e.Upgrade != d.VersionUpgradeOption {
		u.VersionUpgradeOption = &e.Upgrade
	}
	if isManagedCompute(d.SKU.Name) {
		if e.InstanceType != "" && e.InstanceType != d.InstanceType {
			u.InstanceType = &e.InstanceType
		}
		if e.ScaleToZero != d.ScaleToZero {
			u.ScaleToZero = &e.ScaleToZero
		}
	}
	flash := "Nothing changed."
	if u != (api.DeploymentUpdate{}) {
		if _, err := q.api.UpdateDeployment(q.ctx(), pname, dname, u); err != nil {
			fe, ok := toFormError(err, editFields())
			if !ok {
				s.fail(q, err)
				return
			}
			if fe.Code == "InsufficientQuota" {
				fe.Field = "capacity"
			}
			again(fe)
			return
		}
		flash = "Deployment " + dname + " updated."
		if u.Version != nil {
			flash = "Deployment " + dname + " is moving to version " + e.Version + "."
		}
	}
	seeOther(q, deploymentURL(pname, dname)+"?flash="+url.QueryEscape(flash)+"#settings")
}

// setLogging posts the request-log capture form.
func (s *Studio) setLogging(q *request) {
	pname, dname := q.r.PathValue("project"), q.r.PathValue("deployment")
	pf := q.r.PostForm
	f := logForm{Enabled: pf.Get("enabled") == "on", Days: strings.TrimSpace(pf.Get("retentionDays"))}
	again := func(fe formError) {
		s.deploymentWith(q, http.StatusUnprocessableEntity, deploymentPage{LogForm: f, LogErrors: []formError{fe}})
	}
	days := 0
	if f.Days != "" {
		n, err := strconv.Atoi(f.Days)
		if err != nil {
			again(formError{Field: "retentionDays", Message: "Enter a whole number of days, such as 7."})
			return
		}
		days = n
	}
	got, err := q.api.SetLogSettings(q.ctx(), pname, dname, api.LogSettings{Enabled: f.Enabled, RetentionDays: days})
	if err != nil {
		fe, ok := toFormError(err, map[string]string{"retentionDays": "retentionDays", "enabled": "enabled"})
		if !ok {
			s.fail(q, err)
			return
		}
		again(fe)
		return
	}
	flash := "Request-log capture is off."
	if got.Enabled {
		flash = "Request logs are captured and kept " + strconv.Itoa(got.RetentionDays) + " days."
	}
	seeOther(q, deploymentURL(pname, dname)+"?flash="+url.QueryEscape(flash)+"#request-logs")
}

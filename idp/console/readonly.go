package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

type billingData struct {
	Org                                            directory.Organization
	Members, Admins, ServiceAccounts, PendingCount int
	// Upgradable: the seeds' Upgrade button shows on every plan but enterprise.
	Upgradable bool
}

// billingPage is the Billing tab: the plan and the counts of the seeds'
// overview, from one count query whatever the org's size. Payments and
// invoices belong to a billing system; the page says so.
func (c *Console) billingPage(w http.ResponseWriter, r *http.Request, a *actor) {
	n, err := c.store.CountMembers(r.Context(), a.orgID())
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := billingData{Org: a.pa.Org, Upgradable: a.pa.Org.Plan != directory.PlanEnterprise,
		Members: n.Users, Admins: n.Admins, ServiceAccounts: n.ServiceAccounts, PendingCount: n.PendingRequests}
	c.render(w, r, http.StatusOK, "console/billing", c.view(r, a, "billing", "Billing", d))
}

type auditData struct {
	Events               []directory.AuditEvent
	Pager                pager
	Actor, Action, Since string
	Error                string
}

// auditPage is the Audit tab: newest first, filtered by actor, action and
// a start date, paginated.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, a *actor) {
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Since: strings.TrimSpace(q.Get("since"))}
	status := http.StatusOK
	if len(d.Actor) > 200 || len(d.Action) > 200 {
		d.Actor, d.Action, d.Error, status = "", "", "Actor and action must be at most 200 characters.", http.StatusUnprocessableEntity
	}
	p := readPage(r)
	f := directory.AuditFilter{Actor: d.Actor, Action: d.Action, Page: p}
	if d.Since != "" {
		t, err := time.Parse("2006-01-02", d.Since)
		if err != nil {
			d.Error, status, d.Since = "The start date must be a date such as 2025-01-31.", http.StatusUnprocessableEntity, ""
		} else {
			f.Since = t
		}
	}
	events, next, err := c.store.ListAudit(r.Context(), a.orgID(), f)
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d.Events = events
	d.Pager = pagerFor(c.adminPath(a, "audit"), keepQuery(url.Values{"actor": {d.Actor}, "action": {d.Action}, "since": {d.Since}}, "actor", "action", "since"), p.After, next)
	c.render(w, r, status, "console/audit", c.view(r, a, "audit", "Audit log", d))
}

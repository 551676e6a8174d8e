package console

import (
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
)

type domainRow struct {
	directory.Domain
	Name, RecordName, RecordValue string
}

type domainsData struct {
	Domains  []domainRow
	Refused  *connForm
	Editable bool
	APIPath  string
}

func domainRows(ds []directory.Domain) []domainRow {
	out := make([]domainRow, 0, len(ds))
	for _, d := range ds {
		name, value := adminapi.DomainRecord(d)
		out = append(out, domainRow{Domain: d, Name: d.Domain, RecordName: name, RecordValue: value})
	}
	return out
}

// domainsPage is the Domains tab: add a domain, what to publish, verify.
func (c *Console) domainsPage(w http.ResponseWriter, r *http.Request, a *actor) {
	c.domainsView(w, r, a, http.StatusOK, nil)
}

func (c *Console) domainsView(w http.ResponseWriter, r *http.Request, a *actor, status int, refused *connForm) {
	ds, err := c.store.ListDomains(r.Context(), a.orgID())
	if err != nil {
		c.storeError(w, r, a, err)
		return
	}
	d := domainsData{Domains: domainRows(ds), Refused: refused, Editable: c.conns != nil && c.self != nil,
		APIPath: "/api/v1/orgs/" + a.orgID() + "/domains"}
	c.render(w, r, status, "console/domains", c.view(r, a, "domains", "Domains", d))
}

// addDomain is POST /admin/{org}/domains.
func (c *Console) addDomain(w http.ResponseWriter, r *http.Request, a *actor) {
	if c.self == nil {
		c.message(w, r, a, http.StatusNotImplemented, "Not available", "Domains cannot be changed on this server.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("domain"))
	d, err := c.self.AddDomain(r.Context(), a.userID(), a.orgID(), name)
	if err != nil {
		status, field, msg, ok := formRefusal(err)
		if !ok {
			c.storeError(w, r, a, err)
			return
		}
		if field == "" {
			field = "domain"
		}
		c.domainsView(w, r, a, status, &connForm{Form: "add", Field: field, Message: msg, Values: map[string]string{"domain": name}})
		return
	}
	c.done(w, r, c.adminPath(a, "domains"), "Domain "+d.Domain+" added. Publish the TXT record below, then verify.")
}

// domainPost is POST /admin/{org}/domains/{domain}/{verify|delete}.
func (c *Console) domainPost(w http.ResponseWriter, r *http.Request, a *actor) {
	list := c.adminPath(a, "domains")
	if c.self == nil || c.conns == nil {
		c.redirect(w, r, list)
		return
	}
	ctx := r.Context()
	name := r.PathValue("domain")
	switch r.PathValue("action") {
	case "verify":
		d, err := c.conns.VerifyDomain(ctx, a.userID(), a.orgID(), name)
		if err != nil {
			if msg, ok := adminapi.DomainVerificationError(err); ok {
				c.setFlash(w, "error", upperFirst(msg))
				c.redirect(w, r, list)
				return
			}
			c.refused(w, r, list, err)
			return
		}
		c.done(w, r, list, "Domain "+d.Domain+" is verified: sign-ins with its email addresses come to this organization.")
	case "delete":
		if err := c.self.DeleteDomain(ctx, a.userID(), a.orgID(), name); err != nil {
			c.refused(w, r, list, err)
			return
		}
		c.done(w, r, list, "Domain "+name+" removed.")
	default:
		c.message(w, r, a, http.StatusNotFound, "Not found", "There is no such action.")
	}
}

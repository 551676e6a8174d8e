package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
)

// view is the data every console page gets; D is the page's own.
type view struct {
	Title string
	// Tab is the admin tab the page belongs to ("" outside the admin tabs).
	Tab  string
	Tabs []tabLink
	// Signed-in person and org (empty on pages shown before sign-in).
	SignedIn   bool
	OrgID      string
	OrgName    string
	MyName     string
	MyEmail    string
	IsAdmin    bool
	CSRF       string
	Flash      *flash
	AccountURL string
	AdminURL   string
	// Admin is the /admin/{org} prefix of the admin tabs' URLs.
	Admin        string
	LogoutAction string
	D            any
}

type tabLink struct {
	ID, Name, URL string
	Current       bool
}

// tabs are the admin console's tabs, in the order of the nav bar.
var tabNames = [][2]string{
	{"general", "General"}, {"workspaces", "Workspaces"}, {"users", "Users"},
	{"settings", "Organization settings"}, {"service-accounts", "Service accounts"},
	{"billing", "Billing"}, {"audit", "Audit"}, {"connections", "Connections"}, {"domains", "Domains"},
}

func (c *Console) view(_ *http.Request, a *actor, tab, title string, d any) *view {
	v := &view{Title: title, Tab: tab, D: d, LogoutAction: c.base + idp.LogoutPath}
	if a == nil {
		return v
	}
	v.SignedIn, v.OrgID, v.OrgName = true, a.pa.Org.ID, a.pa.Org.Name
	v.MyName, v.MyEmail = a.pa.Member.Name, a.pa.Member.Email
	v.CSRF, v.Flash, v.IsAdmin = a.csrf, a.flash, a.isAdmin()
	v.AccountURL = c.base + "/account"
	if v.IsAdmin {
		v.AdminURL = c.adminPath(a, "general")
		v.Admin = c.adminPath(a)
		if tab != "" {
			for _, t := range tabNames {
				v.Tabs = append(v.Tabs, tabLink{ID: t[0], Name: t[1], URL: c.adminPath(a, t[0]), Current: t[0] == tab})
			}
		}
	}
	return v
}

// pager is the "next page" link of a list; lists are cursor-paginated by the
// store, so a page links to the next and back to the first.
type pager struct {
	Next  string
	First string
	// Label names the pager's navigation landmark.
	Label string
}

// pageSize is how many rows a console list shows.
const pageSize = 50

// readPage reads ?after= (bounded) for a store Page.
func readPage(r *http.Request) directory.Page {
	after := r.URL.Query().Get("after")
	if len(after) > 200 {
		after = ""
	}
	return directory.Page{After: after, Limit: pageSize}
}

// pagerFor builds the links of a list at path with query q, given the
// store's next cursor, for a list paginated by ?after=.
func pagerFor(path string, q url.Values, after, next string) pager {
	return pagerOn(path, q, "after", after, next)
}

// pagerOn builds the links of a list whose cursor is the parameter param
// (pages with several lists give each its own); q holds the page's other
// parameters, kept in both links.
func pagerOn(path string, q url.Values, param, after, next string) pager {
	p := pager{Label: "Pages"}
	link := func(cursor string) string {
		lq := url.Values{}
		for k, v := range q {
			if k != param {
				lq[k] = v
			}
		}
		if cursor != "" {
			lq.Set(param, cursor)
		}
		if len(lq) == 0 {
			return path
		}
		return path + "?" + lq.Encode()
	}
	if next != "" {
		p.Next = link(next)
	}
	if after != "" {
		p.First = link("")
	}
	return p
}

// searchParam reads ?q= for a server-side search, trimmed and cut to the
// directory's bound.
func searchParam(q url.Values) string {
	v := strings.TrimSpace(q.Get("q"))
	if len(v) > directory.MaxSearchLen {
		v = strings.ToValidUTF8(v[:directory.MaxSearchLen], "")
	}
	return v
}

// formValues keeps what a refused form held, to show it again.
type formValues map[string]string

func keep(r *http.Request, names ...string) formValues {
	f := formValues{}
	for _, n := range names {
		v := r.PostForm.Get(n)
		if len(v) > 500 {
			v = v[:500]
		}
		f[n] = v
	}
	return f
}

// refusedForm is a form the directory (or validation) refused: which form,
// why, and what it held.
type refusedForm struct {
	Form    string
	Message string
	Values  formValues
}

func itoa(n int) string { return strconv.Itoa(n) }

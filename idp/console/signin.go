package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/session"
)

// maxLinkToken bounds the sign-in link token accepted from the path.
const maxLinkToken = 200

type signInLinkData struct {
	Action, CSRF string
}

// signInLinkPage is GET /admin/sign-in/{token}: a confirmation page with a
// POST button, so that mail clients' link scanners do not burn the link.
func (c *Console) signInLinkPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" || len(token) > maxLinkToken {
		c.linkRefused(w, r, http.StatusNotFound, "This sign-in link is not valid.")
		return
	}
	d := signInLinkData{Action: c.base + "/admin/sign-in/" + url.PathEscape(token), CSRF: c.csrfToken(w, r)}
	c.render(w, r, http.StatusOK, "console/signin-link", c.view(r, nil, "", "Sign in to the console", d))
}

// signInLinkRedeem is POST /admin/sign-in/{token}: redeems the link (once),
// opens a browser session for its user and goes to the console (or
// /account for someone who is not an admin).
func (c *Console) signInLinkRedeem(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !c.checkCSRF(w, r) {
		c.render(w, r, http.StatusForbidden, "console/message", c.view(r, nil, "", "Form expired", messageData{
			Message: "This form has expired or was sent from another site, so the link was not used. Open the link again."}))
		return
	}
	token := r.PathValue("token")
	if c.links == nil || token == "" || len(token) > maxLinkToken {
		c.linkRefused(w, r, http.StatusNotFound, "This sign-in link is not valid.")
		return
	}
	link, err := c.links.RedeemSignInLink(ctx, token)
	switch {
	case errors.Is(err, ErrLinkExpired):
		c.linkRefused(w, r, http.StatusGone, "This sign-in link has expired (links last at most 15 minutes).")
		return
	case errors.Is(err, ErrLinkUsed):
		c.linkRefused(w, r, http.StatusGone, "This sign-in link was already used (each link works once).")
		return
	case errors.Is(err, directory.ErrNotFound):
		c.linkRefused(w, r, http.StatusNotFound, "This sign-in link is not valid.")
		return
	case err != nil:
		c.unavailable(w, r, "redeeming a sign-in link", err)
		return
	}
	pa, err := c.store.SessionStanding(ctx, link.OrgID, link.UserID, directory.LinkConnection)
	if errors.Is(err, directory.ErrNoStanding) {
		c.linkRefused(w, r, http.StatusForbidden, "The person this link signs in is no longer a member of the organization.")
		return
	}
	if err != nil {
		c.unavailable(w, r, "checking a sign-in link's user", err)
		return
	}
	sess, err := c.sessions.CreateSession(ctx, session.Session{UserID: link.UserID, OrgID: link.OrgID,
		ConnectionID: directory.LinkConnection, AMR: []string{"link"}})
	if err != nil {
		c.unavailable(w, r, "creating a session", err)
		return
	}
	c.cookie.Set(w, sess.ID)
	c.log.InfoContext(ctx, "console: signed in with an operator link", "org", link.OrgID, "user", link.UserID)
	a := &actor{sess: sess, pa: pa}
	if a.isAdmin() {
		c.redirect(w, r, c.adminPath(a, "general"))
		return
	}
	c.redirect(w, r, c.base+"/account")
}

func (c *Console) linkRefused(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "console/message", c.view(r, nil, "", "Sign-in link not usable", messageData{
		Message: msg + " Ask your operator for a new link: ssobroker admin sign-in-link --org ORG --email EMAIL.",
	}))
}

type invitationData struct {
	Invitation directory.Invitation
	OrgName    string
	Inviter    string
	LoginURL   string
	State      string
}

// invitationPage is GET /invite/{id}: who invited you where, and the way to
// accept (signing in with your work email; acceptance needs a verified
// email at sign-in). The id is not a secret.
func (c *Console) invitationPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if c.invites == nil || id == "" || len(id) > 100 {
		c.render(w, r, http.StatusNotFound, "console/message", c.view(r, nil, "", "Invitation not found",
			messageData{Message: "This invitation link is not valid. Ask the person who invited you for a new one."}))
		return
	}
	inv, err := c.invites.FindInvitation(ctx, id)
	if errors.Is(err, directory.ErrNotFound) {
		c.render(w, r, http.StatusNotFound, "console/message", c.view(r, nil, "", "Invitation not found",
			messageData{Message: "This invitation link is not valid. Ask the person who invited you for a new one."}))
		return
	}
	if err != nil {
		c.unavailable(w, r, "reading an invitation", err)
		return
	}
	org, err := c.store.GetOrg(ctx, inv.OrgID)
	if err != nil {
		c.storeError(w, r, nil, err)
		return
	}
	d := invitationData{Invitation: inv, OrgName: org.Name, State: string(inv.State)}
	if m, err := c.store.GetMember(ctx, inv.OrgID, inv.InvitedBy); err == nil {
		d.Inviter = m.Name
		if d.Inviter == "" {
			d.Inviter = display(m)
		}
	}
	status := http.StatusOK
	switch inv.State {
	case directory.InvitationPending:
		d.LoginURL = c.base + idp.LoginPath + "/" + url.PathEscape(inv.OrgID) + "?" + url.Values{"login_hint": {inv.Email}}.Encode()
	default:
		status = http.StatusGone
	}
	c.render(w, r, status, "console/invitation", c.view(r, nil, "", "Invitation to "+org.Name, d))
}

package adminapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// InvitationMailer sends an invitation's email (idp/mail.Mailer is one). A
// failure never loses the invitation: it stays pending and the answer still
// carries its link.
type InvitationMailer interface {
	SendInvitation(ctx context.Context, inv directory.Invitation, orgName, inviterName, acceptURL string) error
}

// Mail statuses of an invitation answer.
const (
	MailSent          = "sent"
	MailNotConfigured = "not_configured"
	MailFailed        = "failed"
)

// mailTimeout bounds the invitation mail a request waits for.
const mailTimeout = 10 * time.Second

// AcceptURL is an invitation's link: {issuer}/invite/{id}. It is not a
// secret: accepting still needs a sign-in with the invited, verified email.
func AcceptURL(issuer, invitationID string) string {
	return strings.TrimRight(issuer, "/") + "/invite/" + url.PathEscape(invitationID)
}

// invitationAnswer is an invitation with its link and what became of its mail.
type invitationAnswer struct {
	directory.Invitation
	AcceptURL string `json:"accept_url"`
	// Mail is "sent", "not_configured" (no SSOBROKER_SMTP_URL) or "failed"
	// (logged; the link above still works).
	Mail string `json:"mail"`
}

// mailInvitation sends inv's email after it was stored, within mailTimeout,
// and says how it went.
func (a *API) mailInvitation(r *http.Request, c *caller, inv directory.Invitation) string {
	if a.mailer == nil {
		return MailNotConfigured
	}
	inviter := c.access.Member.Name
	if inviter == "" {
		inviter = c.access.Member.Email
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), mailTimeout)
	defer cancel()
	if err := a.mailer.SendInvitation(ctx, inv, c.access.Org.Name, inviter, AcceptURL(a.issuer, inv.ID)); err != nil {
		a.log.WarnContext(r.Context(), "invitation mail not sent", "org", inv.OrgID, "invitation", inv.ID, "err", err)
		return MailFailed
	}
	return MailSent
}

// writeInvitation answers with inv, its link and its mail's status.
func (a *API) writeInvitation(w http.ResponseWriter, r *http.Request, c *caller, status int, inv directory.Invitation) {
	writeJSON(w, status, invitationAnswer{Invitation: inv, AcceptURL: AcceptURL(a.issuer, inv.ID), Mail: a.mailInvitation(r, c, inv)})
}

// resendInvitation answers with a pending invitation's link again and sends
// its mail again: admins any invitation, others those they made.
func (a *API) resendInvitation(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	inv, err := a.store.GetInvitation(r.Context(), c.orgID(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !c.can(access.OrgAdmin, nil) {
		if err := c.require(access.OrgInvite, nil); err != nil {
			return err
		}
		if inv.InvitedBy != c.subject {
			return forbidden("missing permission org.admin: only admins and the inviter may resend an invitation")
		}
	}
	if inv.State != directory.InvitationPending {
		return &apiError{status: http.StatusConflict, code: "conflict",
			message: "invitation " + inv.ID + " is " + string(inv.State) + ": only a pending invitation is sent again; invite the email anew"}
	}
	a.writeInvitation(w, r, c, http.StatusOK, inv)
	return nil
}

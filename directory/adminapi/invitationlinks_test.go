package adminapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// recordingMailer records invitation mails and fails when told to.
type recordingMailer struct {
	mu   sync.Mutex
	fail bool
	sent []sentInvitation
}

type sentInvitation struct {
	inv                     directory.Invitation
	org, inviter, acceptURL string
}

func (m *recordingMailer) SendInvitation(_ context.Context, inv directory.Invitation, orgName, inviterName, acceptURL string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("smtp: 451 try again later")
	}
	m.sent = append(m.sent, sentInvitation{inv, orgName, inviterName, acceptURL})
	return nil
}

// An invitation answers with its link and what became of its mail; a mail
// failure never loses the invitation; resend gives the link again.
func TestInvitationLinkAndMail(t *testing.T) {
	f := newFixture(t, directorytest.SQLite)
	invite := func(t *testing.T, email string) map[string]any {
		t.Helper()
		r := f.as(cAdmin, "POST", f.pathA("/invitations"), `{"email":"`+email+`","role":"platform_member"}`)
		wantStatus(t, r, http.StatusCreated)
		return r.json(t)
	}
	linkOf := func(id any) string { return "https://sso.example.test/invite/" + id.(string) }

	t.Run("without a mailer the answer carries the link and says mail is not configured", func(t *testing.T) {
		got := invite(t, "nomail@acme.test")
		if got["accept_url"] != linkOf(got["id"]) || got["mail"] != MailNotConfigured || got["state"] != "pending" {
			t.Fatalf("answer %v", got)
		}
	})

	m := &recordingMailer{}
	f.api.mailer = m
	t.Run("with a mailer the invitee is mailed the same link", func(t *testing.T) {
		got := invite(t, "mailed@acme.test")
		if got["mail"] != MailSent || len(m.sent) != 1 {
			t.Fatalf("answer %v, mails %d", got, len(m.sent))
		}
		s := m.sent[0]
		if s.acceptURL != got["accept_url"] || s.inv.Email != "mailed@acme.test" || s.org != "Acme" || s.inviter == "" {
			t.Fatalf("mailed %+v, answer %v", s, got)
		}
	})

	t.Run("a failed mail is reported and the invitation stays, pending, with its link", func(t *testing.T) {
		m.fail = true
		defer func() { m.fail = false }()
		got := invite(t, "unlucky@acme.test")
		if got["mail"] != MailFailed || got["accept_url"] != linkOf(got["id"]) {
			t.Fatalf("answer %v", got)
		}
		inv, err := f.store.GetInvitation(f.ctx, f.orgA.ID, got["id"].(string))
		if err != nil || inv.State != directory.InvitationPending {
			t.Fatalf("the invitation after a failed mail: %+v, %v", inv, err)
		}
	})

	t.Run("resend mails the link again; a revoked invitation is not resent", func(t *testing.T) {
		got := invite(t, "again@acme.test")
		before := len(m.sent)
		r := f.as(cAdmin, "POST", f.pathA("/invitations/"+got["id"].(string)+"/resend"), "")
		wantStatus(t, r, http.StatusOK)
		again := r.json(t)
		if again["accept_url"] != got["accept_url"] || again["mail"] != MailSent || len(m.sent) != before+1 {
			t.Fatalf("resend answered %v (%d mails before, %d after)", again, before, len(m.sent))
		}
		wantStatus(t, f.as(cAdmin, "DELETE", f.pathA("/invitations/"+got["id"].(string)), ""), http.StatusNoContent)
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/invitations/"+got["id"].(string)+"/resend"), ""), http.StatusConflict)
		wantStatus(t, f.as(cAdmin, "POST", f.pathA("/invitations/"+f.b.inv+"/resend"), ""), http.StatusNotFound)
	})
}

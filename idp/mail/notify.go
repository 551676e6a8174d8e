package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// MemberLister lists an organization's members; *directory.SQLStore is one.
type MemberLister interface {
	ListMembers(ctx context.Context, orgID string, p directory.Page) ([]directory.Member, string, error)
}

// JoinRequestNotices mails an organization's admins when someone asks to
// join it (an org in approval mode). It is the idp package's
// JoinRequestNotifier.
type JoinRequestNotices struct {
	Mailer  *Mailer
	Members MemberLister
	// Issuer is the broker's public base URL; the mail links to the org's
	// users page of the console ({Issuer}/admin/{org_id}/users).
	Issuer string
	Logger *slog.Logger
}

// NotifyJoinRequest sends the notices in the background and returns at once:
// a sign-in never waits for mail. Failures are logged.
func (n *JoinRequestNotices) NotifyJoinRequest(ctx context.Context, org directory.Organization, user directory.User, req directory.JoinRequest) {
	ctx = context.WithoutCancel(ctx)
	go func() {
		if err := n.Send(ctx, org, user, req); err != nil {
			n.logger().WarnContext(ctx, "join request notice not sent", "org", org.ID, "request", req.ID, "err", err)
		}
	}()
}

func (n *JoinRequestNotices) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

// Send mails every human admin of org that user asks to join, one message
// each, and returns every failure joined.
func (n *JoinRequestNotices) Send(ctx context.Context, org directory.Organization, user directory.User, req directory.JoinRequest) error {
	if n.Mailer == nil || n.Members == nil {
		return errors.New("mail: join request notices need a Mailer and a MemberLister")
	}
	var admins []string
	for p := (directory.Page{Limit: 200}); ; {
		ms, next, err := n.Members.ListMembers(ctx, org.ID, p)
		if err != nil {
			return fmt.Errorf("mail: listing the admins of %s: %w", org.ID, err)
		}
		for _, m := range ms {
			if m.Role == access.RoleAdmin && m.Type == directory.PrincipalUser && m.Email != "" {
				admins = append(admins, m.Email)
			}
		}
		if next == "" || len(admins) >= 50 {
			break
		}
		p.After = next
	}
	review := strings.TrimRight(n.Issuer, "/") + "/admin/" + url.PathEscape(org.ID) + "/users"
	email := user.Email
	if email == "" {
		email = req.Email
	}
	var errs []error
	for _, a := range admins {
		errs = append(errs, n.Mailer.SendJoinRequest(ctx, a, org.Name, user.Name, email, review))
	}
	return errors.Join(errs...)
}

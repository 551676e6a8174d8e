// Package mail sends the broker's email: the invitation (who invited you to
// which organization, with what role, the accept link and its expiry) and the
// notice to an organization's admins that someone asks to join. It speaks
// SMTP through github.com/wneessen/go-mail, configured by one URL
// (SSOBROKER_SMTP_URL) and a sender (SSOBROKER_MAIL_FROM):
//
//	smtp://user:pass@host:port                     STARTTLS when the server offers it
//	smtp://user:pass@host:port?starttls=required   STARTTLS or no mail
//	smtps://user:pass@host:port                    TLS from the first byte
//
// Mail is a courtesy, never the only way: an invitation exists, with its
// link, whether or not its mail could be sent, and every send is bounded by
// a timeout (README, "Mail").
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/ssobroker/ssobroker/directory"
)

// DefaultTimeout bounds one send: connecting, the SMTP dialogue and the data.
const DefaultTimeout = 10 * time.Second

// Config configures a Mailer.
type Config struct {
	// URL is SSOBROKER_SMTP_URL (see the package documentation).
	URL string
	// From is SSOBROKER_MAIL_FROM, an address with an optional display name
	// ("ssobroker <no-reply@example.com>").
	From string
	// Timeout bounds one send; zero means DefaultTimeout.
	Timeout time.Duration
	// TLS, when set, is the base of the TLS configuration (tests set RootCAs);
	// the server name is always the URL's host and TLS 1.2 the minimum.
	TLS *tls.Config
	// Logger receives send failures; nil discards them.
	Logger *slog.Logger
}

// endpoint is a parsed SSOBROKER_SMTP_URL.
type endpoint struct {
	host           string
	port           int
	implicitTLS    bool
	startTLSNeeded bool
	user, pass     string
}

// ValidateURL checks an SSOBROKER_SMTP_URL without connecting. Its error
// never contains the URL's password.
func ValidateURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

// ValidateFrom checks an SSOBROKER_MAIL_FROM address.
func ValidateFrom(from string) error {
	if from == "" {
		return errors.New("is required when SSOBROKER_SMTP_URL is set")
	}
	a, err := netmail.ParseAddress(from)
	if err != nil || !strings.Contains(a.Address, "@") {
		return fmt.Errorf("%q is not an email address (e.g. \"ssobroker <no-reply@example.com>\")", from)
	}
	if strings.ContainsAny(from, "\r\n") {
		return errors.New("must be one line")
	}
	return nil
}

func parseURL(raw string) (endpoint, error) {
	var e endpoint
	u, err := url.Parse(raw)
	if err != nil {
		return e, errors.New("is not a URL (smtp://user:pass@host:port or smtps://…)")
	}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		e.implicitTLS = true
	default:
		return e, fmt.Errorf("scheme %q: must be smtp:// (STARTTLS when offered; ?starttls=required to insist) or smtps:// (implicit TLS)", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return e, errors.New("must name a host: smtp://host:port")
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return e, errors.New("must not have a path or fragment")
	}
	e.host = u.Hostname()
	e.port = 587
	if e.implicitTLS {
		e.port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return e, fmt.Errorf("port %q is not a port number", p)
		}
		e.port = n
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return e, fmt.Errorf("unknown parameter %q (only starttls=required|opportunistic)", k)
		}
	}
	switch q.Get("starttls") {
	case "", "opportunistic":
	case "required":
		if e.implicitTLS {
			return e, errors.New("starttls=required is for smtp://; smtps:// is TLS from the start")
		}
		e.startTLSNeeded = true
	default:
		return e, fmt.Errorf("starttls=%q: must be required or opportunistic", q.Get("starttls"))
	}
	if u.User != nil {
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
		if e.user == "" {
			return e, errors.New("has a password but no user name")
		}
	}
	return e, nil
}

// Mailer sends the broker's mail over SMTP. It is safe for concurrent use;
// each send opens its own connection.
type Mailer struct {
	ep      endpoint
	from    string
	timeout time.Duration
	tls     *tls.Config
	log     *slog.Logger
}

// New returns a Mailer for cfg, or an error naming what is wrong with it.
func New(cfg Config) (*Mailer, error) {
	ep, err := parseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mail: SSOBROKER_SMTP_URL %w", err)
	}
	if err := ValidateFrom(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: SSOBROKER_MAIL_FROM %w", err)
	}
	m := &Mailer{ep: ep, from: cfg.From, timeout: cfg.Timeout, log: cfg.Logger}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLS != nil {
		m.tls = cfg.TLS.Clone()
	} else {
		m.tls = &tls.Config{}
	}
	m.tls.ServerName = ep.host
	if m.tls.MinVersion < tls.VersionTLS12 {
		m.tls.MinVersion = tls.VersionTLS12
	}
	return m, nil
}

// Describe names the server and its TLS mode for the startup log, without
// the credentials.
func (m *Mailer) Describe() string {
	mode := "STARTTLS when offered"
	switch {
	case m.ep.implicitTLS:
		mode = "implicit TLS"
	case m.ep.startTLSNeeded:
		mode = "STARTTLS required"
	}
	return fmt.Sprintf("%s:%d (%s)", m.ep.host, m.ep.port, mode)
}

// message is one mail to send.
type message struct {
	to      string
	subject string
	text    string
	html    string
}

// send delivers msg within the Mailer's timeout (and ctx).
func (m *Mailer) send(ctx context.Context, msg message) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	gm := gomail.NewMsg()
	if err := gm.From(m.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := gm.To(msg.to); err != nil {
		return fmt.Errorf("mail: recipient %q: %w", msg.to, err)
	}
	gm.Subject(oneLine(msg.subject))
	gm.SetDate()
	gm.SetMessageID()
	gm.SetBodyString(gomail.TypeTextPlain, msg.text)
	gm.AddAlternativeString(gomail.TypeTextHTML, msg.html)

	opts := []gomail.Option{
		gomail.WithPort(m.ep.port),
		gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(m.tls),
	}
	switch {
	case m.ep.implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case m.ep.startTLSNeeded:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if m.ep.user != "" {
		// The strongest mechanism the server offers; PLAIN and LOGIN only
		// over TLS (or to localhost).
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.ep.user), gomail.WithPassword(m.ep.pass))
	}
	c, err := gomail.NewClient(m.ep.host, opts...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, gm); err != nil {
		return fmt.Errorf("mail: sending to %s through %s: %w", msg.to, m.Describe(), err)
	}
	return nil
}

// oneLine turns control characters (a header injection attempt, or a stray
// newline in a name) into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// SendInvitation mails inv to its invitee: who invited them (inviterName,
// may be empty), to which organization, with what role, the accept link and
// when it expires.
func (m *Mailer) SendInvitation(ctx context.Context, inv directory.Invitation, orgName, inviterName, acceptURL string) error {
	msg, err := invitationMessage(inv, orgName, inviterName, acceptURL)
	if err != nil {
		return err
	}
	if err := m.send(ctx, msg); err != nil {
		m.log.WarnContext(ctx, "invitation mail not sent", "invitation", inv.ID, "org", inv.OrgID, "err", err)
		return err
	}
	return nil
}

// SendJoinRequest tells one admin (adminEmail) of orgName that requester
// (name and email) asks to join, with the page where they decide.
func (m *Mailer) SendJoinRequest(ctx context.Context, adminEmail, orgName, requesterName, requesterEmail, reviewURL string) error {
	msg, err := joinRequestMessage(adminEmail, orgName, requesterName, requesterEmail, reviewURL)
	if err != nil {
		return err
	}
	return m.send(ctx, msg)
}

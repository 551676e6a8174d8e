package mail_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/e2e/peers"
	"github.com/ssobroker/ssobroker/idp/mail"
	"github.com/ssobroker/ssobroker/internal/certtest"
)

// The mail is received by an independent SMTP server (npm smtp-server) and
// parsed by an independent MIME parser (npm mailparser): e2e/smtp-sink.mjs.
// Missing node or npm modules fail these tests; they never skip.

type sinkConfig struct {
	Secure   bool   `json:"secure"`
	StartTLS bool   `json:"starttls"`
	Cert     string `json:"cert,omitempty"`
	Key      string `json:"key,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

type receivedMail struct {
	EnvelopeFrom string   `json:"envelope_from"`
	EnvelopeTo   []string `json:"envelope_to"`
	From         string   `json:"from"`
	FromAddress  string   `json:"from_address"`
	To           string   `json:"to"`
	Subject      string   `json:"subject"`
	Text         string   `json:"text"`
	HTML         string   `json:"html"`
	Secure       bool     `json:"secure"`
	User         string   `json:"user"`
	ContentType  string   `json:"content_type"`
	MessageID    string   `json:"message_id"`
	Date         string   `json:"date"`
}

type sink struct {
	port   int
	script *peers.Script
}

func startSink(t *testing.T, cfg sinkConfig) *sink {
	t.Helper()
	peers.RequireNode(t, "smtp-server", "mailparser")
	arg, _ := json.Marshal(cfg)
	s, line := peers.StartScript(t, "smtp-sink.mjs", peers.ScriptOptions{Args: []string{string(arg)}})
	var ready struct {
		Ready bool `json:"ready"`
		Port  int  `json:"port"`
	}
	if json.Unmarshal(line, &ready) != nil || !ready.Ready || ready.Port == 0 {
		t.Fatalf("smtp sink did not start: %s\n%s", line, s.Log())
	}
	return &sink{port: ready.Port, script: s}
}

// next returns the next message the sink received.
func (s *sink) next(t *testing.T) receivedMail {
	t.Helper()
	line, err := s.script.Next(20 * time.Second)
	if err != nil {
		t.Fatalf("no mail arrived: %v\nsink log:\n%s", err, s.script.Log())
	}
	var m struct {
		Mail *receivedMail `json:"mail"`
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil || m.Mail == nil {
		t.Fatalf("sink said %s", line)
	}
	return *m.Mail
}

// none checks that the sink received nothing more.
func (s *sink) none(t *testing.T) {
	t.Helper()
	if line, err := s.script.Next(300 * time.Millisecond); err == nil {
		t.Fatalf("the sink received a message it should not have: %s", line)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key := certtest.ECDSAKey(t)
	der, cert := certtest.SelfSigned(t, key, x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, []byte(certtest.PEM(der)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

const from = "ssobroker <no-reply@ssobroker.test>"

func newMailer(t *testing.T, rawURL string, pool *x509.CertPool) *mail.Mailer {
	t.Helper()
	cfg := mail.Config{URL: rawURL, From: from, Timeout: 10 * time.Second}
	if pool != nil {
		cfg.TLS = &tls.Config{RootCAs: pool}
	}
	m, err := mail.New(cfg)
	if err != nil {
		t.Fatalf("mail.New(%q): %v", rawURL, err)
	}
	return m
}

func invitation() directory.Invitation {
	return directory.Invitation{ID: "inv_test123", OrgID: "org_test", Email: "ada@example.com", Role: access.RolePlatformMember,
		InvitedBy: "usr_grace", CreatedAt: time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2030, 5, 8, 9, 30, 0, 0, time.UTC),
		State: directory.InvitationPending}
}

const acceptURL = "https://sso.example.com/invite/inv_test123"

func TestInvitationMailOverPlainSMTP(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkConfig{})
	m := newMailer(t, "smtp://127.0.0.1:"+strconv.Itoa(s.port), nil)
	if err := m.SendInvitation(context.Background(), invitation(), "Acme Research", "Grace Hopper", acceptURL); err != nil {
		t.Fatal(err)
	}
	got := s.next(t)
	if got.FromAddress != "no-reply@ssobroker.test" || !strings.Contains(got.From, "ssobroker") {
		t.Errorf("From = %q (%s)", got.From, got.FromAddress)
	}
	if got.To != "ada@example.com" || len(got.EnvelopeTo) != 1 || got.EnvelopeTo[0] != "ada@example.com" {
		t.Errorf("To = %q, envelope %v", got.To, got.EnvelopeTo)
	}
	if got.Subject != "Grace Hopper invited you to join Acme Research" {
		t.Errorf("Subject = %q", got.Subject)
	}
	for _, part := range []struct{ name, body string }{{"text", got.Text}, {"html", got.HTML}} {
		for _, want := range []string{acceptURL, "Acme Research", "Grace Hopper", "Platform member", "ada@example.com", "8 May 2030"} {
			if !strings.Contains(part.body, want) {
				t.Errorf("the %s part does not say %q:\n%s", part.name, want, part.body)
			}
		}
	}
	if !strings.Contains(got.HTML, `href="`+acceptURL+`"`) {
		t.Errorf("the html part does not link the accept URL:\n%s", got.HTML)
	}
	if got.MessageID == "" || got.Date == "" {
		t.Errorf("message id %q, date %q", got.MessageID, got.Date)
	}
	if got.Secure {
		t.Error("the sink offered no TLS, yet reports a secure session")
	}
}

func TestInvitationMailEscapesWhatPeopleTyped(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkConfig{})
	m := newMailer(t, "smtp://127.0.0.1:"+strconv.Itoa(s.port), nil)
	org := "Acme <script>alert(1)</script>\r\nBcc: victim@example.com"
	if err := m.SendInvitation(context.Background(), invitation(), org, "Eve\nX-Injected: yes", acceptURL); err != nil {
		t.Fatal(err)
	}
	got := s.next(t)
	if len(got.EnvelopeTo) != 1 || strings.Contains(got.To, "victim") {
		t.Errorf("a newline in the org name added a recipient: to %q, envelope %v", got.To, got.EnvelopeTo)
	}
	if strings.Contains(got.HTML, "<script>") {
		t.Errorf("the html part carries the org name's markup unescaped:\n%s", got.HTML)
	}
	if !strings.Contains(got.Subject, "Eve X-Injected: yes") {
		t.Errorf("Subject = %q, want the name on one line", got.Subject)
	}
}

func TestMailUsesSTARTTLSWhenOffered(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSigned(t)
	s := startSink(t, sinkConfig{StartTLS: true, Cert: cert, Key: key, Auth: "mailer:s3cret pass"})
	m := newMailer(t, "smtp://mailer:s3cret%20pass@127.0.0.1:"+strconv.Itoa(s.port), pool)
	if err := m.SendInvitation(context.Background(), invitation(), "Acme", "", acceptURL); err != nil {
		t.Fatal(err)
	}
	got := s.next(t)
	if !got.Secure || got.User != "mailer" {
		t.Fatalf("secure %v, user %q: want STARTTLS and the URL's credentials", got.Secure, got.User)
	}
	if got.Subject != "You are invited to join Acme" {
		t.Errorf("Subject = %q", got.Subject)
	}
}

func TestRequiredSTARTTLSRefusesAServerWithoutIt(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkConfig{})
	m := newMailer(t, "smtp://127.0.0.1:"+strconv.Itoa(s.port)+"?starttls=required", nil)
	err := m.SendInvitation(context.Background(), invitation(), "Acme", "", acceptURL)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("want a STARTTLS error, got %v", err)
	}
	s.none(t)
}

func TestMailOverImplicitTLS(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSigned(t)
	s := startSink(t, sinkConfig{Secure: true, Cert: cert, Key: key, Auth: "mailer:pw"})
	m := newMailer(t, "smtps://mailer:pw@127.0.0.1:"+strconv.Itoa(s.port), pool)
	if err := m.SendInvitation(context.Background(), invitation(), "Acme", "Grace", acceptURL); err != nil {
		t.Fatal(err)
	}
	if got := s.next(t); !got.Secure || got.User != "mailer" {
		t.Fatalf("secure %v, user %q", got.Secure, got.User)
	}
	// A server whose certificate we do not trust gets nothing.
	untrusted := newMailer(t, "smtps://mailer:pw@127.0.0.1:"+strconv.Itoa(s.port), nil)
	if err := untrusted.SendInvitation(context.Background(), invitation(), "Acme", "Grace", acceptURL); err == nil {
		t.Fatal("sent over TLS to a server with an untrusted certificate")
	}
	s.none(t)
}

func TestWrongCredentialsFail(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSigned(t)
	s := startSink(t, sinkConfig{StartTLS: true, Cert: cert, Key: key, Auth: "mailer:right"})
	m := newMailer(t, "smtp://mailer:wrong@127.0.0.1:"+strconv.Itoa(s.port), pool)
	err := m.SendInvitation(context.Background(), invitation(), "Acme", "", acceptURL)
	if err == nil {
		t.Fatal("sent with wrong credentials")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	s.none(t)
}

// A server that accepts the connection and never speaks cannot hold a send
// beyond the Mailer's timeout.
func TestASilentServerDoesNotBlock(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	m, err := mail.New(mail.Config{URL: "smtp://" + ln.Addr().String(), From: from, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.SendInvitation(context.Background(), invitation(), "Acme", "", acceptURL) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a silent server accepted the mail")
		}
	case <-time.After(30 * time.Second): // a hang, not a speed check
		t.Fatal("SendInvitation did not return: the timeout does not bound the send")
	}
}

type members []directory.Member

func (ms members) ListMembers(_ context.Context, orgID string, _ directory.Page) ([]directory.Member, string, error) {
	return ms, "", nil
}

func TestJoinRequestNoticeGoesToEachAdmin(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkConfig{})
	n := &mail.JoinRequestNotices{
		Mailer: newMailer(t, "smtp://127.0.0.1:"+strconv.Itoa(s.port), nil),
		Members: members{
			{PrincipalID: "usr_a1", Type: directory.PrincipalUser, Role: access.RoleAdmin, Email: "admin1@acme.test"},
			{PrincipalID: "usr_m", Type: directory.PrincipalUser, Role: access.RolePlatformMember, Email: "member@acme.test"},
			{PrincipalID: "sa_x", Type: directory.PrincipalServiceAccount, Role: access.RoleAdmin},
			{PrincipalID: "usr_a2", Type: directory.PrincipalUser, Role: access.RoleAdmin, Email: "admin2@acme.test"},
		},
		Issuer: "https://sso.example.com",
	}
	org := directory.Organization{ID: "org_acme", Name: "Acme"}
	user := directory.User{ID: "usr_new", Email: "newbie@acme.test", Name: "Newbie Person"}
	if err := n.Send(context.Background(), org, user, directory.JoinRequest{ID: "req_1", OrgID: org.ID, UserID: user.ID, Email: user.Email}); err != nil {
		t.Fatal(err)
	}
	to := map[string]bool{}
	for range 2 {
		got := s.next(t)
		to[got.To] = true
		if got.Subject != "Newbie Person asks to join Acme" {
			t.Errorf("Subject = %q", got.Subject)
		}
		for _, want := range []string{"https://sso.example.com/admin/org_acme/users", "newbie@acme.test"} {
			if !strings.Contains(got.Text, want) || !strings.Contains(got.HTML, want) {
				t.Errorf("the notice does not say %q:\n%s", want, got.Text)
			}
		}
	}
	if !to["admin1@acme.test"] || !to["admin2@acme.test"] {
		t.Errorf("notices went to %v, want both admins", to)
	}
	s.none(t)
}

func TestURLValidation(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"smtp://mail.example.com", "smtp://u:p@mail.example.com:587", "smtp://mail.example.com:25?starttls=required",
		"smtps://u:p@mail.example.com", "smtp://[::1]:2525", "smtp://mail.example.com/",
	} {
		if err := mail.ValidateURL(ok); err != nil {
			t.Errorf("ValidateURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "mail.example.com:25", "http://mail.example.com", "smtp://", "smtp://host:99999", "smtp://host/path",
		"smtp://host?starttls=maybe", "smtps://host?starttls=required", "smtp://host?tls=1", "smtp://:pw@host",
	} {
		if err := mail.ValidateURL(bad); err == nil {
			t.Errorf("ValidateURL(%q) accepted it", bad)
		}
	}
	if err := mail.ValidateURL("smtp://u:hunter2@host:bad"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad URL's error must not show its password: %v", err)
	}
	for _, bad := range []string{"", "no-reply", "a@b\r\nBcc: x@y"} {
		if err := mail.ValidateFrom(bad); err == nil {
			t.Errorf("ValidateFrom(%q) accepted it", bad)
		}
	}
	if _, err := mail.New(mail.Config{URL: "smtp://host", From: ""}); err == nil {
		t.Error("New accepted a missing From")
	}
}

package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/session"
)

// Test sign-in ("Test this connection", docs/security.md "Test sign-in"):
// an org admin (or a setup link's holder) starts a test; the browser that
// follows its one-time URL signs in at the connection's IdP for real, and
// what came back — the identity, its attributes and groups, and the roles
// the connection's group mapping would give, or the refusal — is kept for
// TestResultTTL in the session store. The connection may still be
// disabled: testing comes before activation.
//
// A test provisions nobody by construction: the callback hands a test's
// verified identity to testRecorder.complete, whose only dependencies are
// the org lookup and the session store's single-use records. It has no path
// to ProvisionLogin, no session to create and no directory write; the test
// state (loginState.Test) is sealed in the browser's cookie, so no request
// parameter can turn a sign-in into a test or a test into a sign-in.

// TestStartPath is where a test sign-in's one-time URL points:
// TestStartPath + token.
const TestStartPath = "/sso/test/"

// Lifetimes of a test sign-in.
const (
	// TestStartTTL bounds the time from starting a test to following its URL.
	TestStartTTL = 15 * time.Minute
	// TestResultTTL is how long a test's result is kept.
	TestResultTTL = time.Hour
)

// Session-store kinds of test sign-ins.
const (
	kindTestStart   session.Kind = "conn_test_start"
	kindTestPending session.Kind = "conn_test_pending"
	kindTestResult  session.Kind = "conn_test_result"
)

// Bounds on the attributes a test keeps.
const (
	maxTestAttributes  = 64
	maxAttributeValues = 32
	maxAttributeName   = 256
	maxAttributeValue  = 512
)

// Attributes are an IdP's attributes or claims as text, bounded.
type Attributes map[string][]string

// Add appends values to attribute name and returns the map (created when
// nil). Past the bounds, names and values are dropped; long values are cut
// and control characters removed, so a hostile IdP cannot make the result
// large or the page strange.
func (a Attributes) Add(name string, values ...string) Attributes {
	name = cleanText(name, maxAttributeName)
	if name == "" {
		return a
	}
	if a == nil {
		a = Attributes{}
	}
	if _, ok := a[name]; !ok && len(a) >= maxTestAttributes {
		return a
	}
	for _, v := range values {
		if len(a[name]) >= maxAttributeValues {
			break
		}
		a[name] = append(a[name], cleanText(v, maxAttributeValue))
	}
	if a[name] == nil {
		a[name] = []string{}
	}
	return a
}

// cleanText drops control characters and invalid UTF-8 from s and cuts it
// to max bytes.
func cleanText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// testStart is the record a test's one-time URL redeems.
type testStart struct {
	Test       string `json:"t"`
	Org        string `json:"o"`
	Connection string `json:"c"`
	Landing    string `json:"l,omitempty"`
}

// testNotFound is the error of a test that is unknown, expired or
// another connection's (it wraps directory.ErrNotFound).
func testNotFound(id string) error {
	return &directory.NotFoundError{Kind: "connection test", Ref: cleanText(id, 80)}
}

// StartConnectionTest starts a test sign-in through connection c for actor
// (an admin, or a setup link's actor) and returns the pending test and the
// one-time URL a browser follows to run it. landing, when not nil, gives
// the relative path the browser lands on once the test is over (the
// console's or the setup link's result page); without it the browser gets a
// short page. Only the single-use start record and the pending result are
// stored, both in the session store, both bounded in time.
func (s *Service) StartConnectionTest(ctx context.Context, actor string, c directory.Connection, landing func(testID string) string) (directory.ConnectionTest, string, error) {
	if s.opts.Connectors[c.Type] == nil {
		return directory.ConnectionTest{}, "", fmt.Errorf("%w: no connector for type %q", ErrConfig, c.Type)
	}
	now := s.now().UTC().Truncate(time.Second)
	t := directory.ConnectionTest{ID: "ctest_" + randomToken(), OrgID: c.OrgID, ConnectionID: c.ID, StartedBy: actor,
		Status: directory.TestPending, CreatedAt: now, ExpiresAt: now.Add(TestResultTTL)}
	st := testStart{Test: t.ID, Org: c.OrgID, Connection: c.ID}
	if landing != nil {
		st.Landing = landing(t.ID)
		if !ValidReturnTo(st.Landing) {
			return directory.ConnectionTest{}, "", fmt.Errorf("idp: test landing %q is not a relative path", st.Landing)
		}
	}
	rec, err := json.Marshal(t)
	if err != nil {
		return t, "", err
	}
	if err := s.sessions.PutOnce(ctx, kindTestPending, t.ID, rec, TestResultTTL); err != nil {
		return t, "", fmt.Errorf("store the pending test: %w", err)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return t, "", err
	}
	token := randomToken()
	// Keyed by the token's hash: the store never holds the URL's secret.
	if err := s.sessions.PutOnce(ctx, kindTestStart, bindingHash(token), raw, TestStartTTL); err != nil {
		return t, "", fmt.Errorf("store the test start: %w", err)
	}
	s.log.InfoContext(ctx, "test sign-in started", "org", c.OrgID, "connection", c.ID, "test", t.ID, "actor", actor)
	return t, s.issuer + TestStartPath + token, nil
}

// ConnectionTest returns test id of connection connID of org orgID: pending
// until the browser comes back from the IdP, then its result, until it
// expires. An error wrapping directory.ErrNotFound for anything else.
func (s *Service) ConnectionTest(ctx context.Context, orgID, connID, id string) (directory.ConnectionTest, error) {
	if !strings.HasPrefix(id, "ctest_") || !isToken(strings.TrimPrefix(id, "ctest_")) {
		return directory.ConnectionTest{}, testNotFound(id)
	}
	t, err := s.tests.read(ctx, id)
	if err != nil {
		return t, err
	}
	if t.OrgID != orgID || t.ConnectionID != connID {
		return directory.ConnectionTest{}, testNotFound(id)
	}
	return t, nil
}

// testStartPage is GET /sso/test/{token}[?login_hint=email]: it redeems a
// test's one-time URL and sends the browser to the connection's IdP with
// the test sealed in its login state.
func (s *Service) testStartPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	gone := failure{status: http.StatusNotFound, title: "Test link expired",
		message: "This test sign-in link has expired or was already used. Start a new test from the connection's page.",
		log:     "unknown, expired or used test sign-in link", level: slog.LevelInfo}
	if !isToken(token) {
		s.fail(w, r, gone)
		return
	}
	raw, err := s.sessions.TakeOnce(ctx, kindTestStart, bindingHash(token))
	if errors.Is(err, session.ErrNotFound) {
		s.fail(w, r, gone)
		return
	}
	if err != nil {
		s.fail(w, r, storeFailure("redeeming a test sign-in link", err, nil))
		return
	}
	var st testStart
	if err := json.Unmarshal(raw, &st); err != nil {
		s.fail(w, r, storeFailure("reading a test sign-in link", err, nil))
		return
	}
	c, err := s.dir.LookupConnection(ctx, st.Connection)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && c.OrgID != st.Org) {
		s.fail(w, r, failure{status: http.StatusNotFound, title: "Connection removed",
			message: "The connection this test was for no longer exists.", log: "test of a removed connection", level: slog.LevelInfo},
			"connection", st.Connection)
		return
	}
	if err != nil {
		s.fail(w, r, storeFailure("connection lookup", err, nil))
		return
	}
	org, err := s.dir.GetOrg(ctx, c.OrgID)
	if err != nil {
		s.fail(w, r, storeFailure("organization lookup", err, nil))
		return
	}
	// A test authenticates again at the IdP (prompt=login, ForceAuthn):
	// the admin may sign in there as the person to test.
	lr := loginRequest{ReturnTo: st.Landing, ForceReauth: true, test: st.Test}
	// ?login_hint= names the person to test as (the IdP may prefill it); an
	// unusable hint is ignored, as for any login.
	if h := strings.TrimSpace(r.URL.Query().Get("login_hint")); emailDomain(h) != "" && !hasControl(h) {
		lr.LoginHint = h
	}
	// The console reaches here by redirecting a form's post: the answer is
	// a page that navigates by itself (see start).
	s.start(w, r, lr, org, c, true)
}

// testKey carries a test's login state through a callback's request, so
// that a refusal is kept as the test's result (see fail).
type testKey struct{}

// asTest marks r as the callback of test login st.
func asTest(r *http.Request, st loginState) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), testKey{}, st))
}

// testOf returns the test login state r carries.
func testOf(r *http.Request) (loginState, bool) {
	st, ok := r.Context().Value(testKey{}).(loginState)
	return st, ok && st.Test != ""
}

// testDirectory is everything a test's completion reads of the directory:
// no method that writes.
type testDirectory interface {
	GetOrg(ctx context.Context, ref string) (directory.Organization, error)
}

// testRecords is everything a test's completion uses of the session
// store: its own single-use records, no browser session.
type testRecords interface {
	PutOnce(ctx context.Context, kind session.Kind, key string, value []byte, ttl time.Duration) error
	TakeOnce(ctx context.Context, kind session.Kind, key string) ([]byte, error)
}

// testRecorder keeps test results. It is the only code a test's callback
// reaches after the IdP answered, and it can neither provision nor sign in.
type testRecorder struct {
	dir     testDirectory
	records testRecords
	now     func() time.Time
	log     *slog.Logger
}

// complete keeps the result of test st whose IdP answered with id through
// connection c: the identity, and what the connection's group mapping
// (ConnectionConfig.MapGroups, the function sign-in uses) and the org's
// defaults would give.
func (t *testRecorder) complete(ctx context.Context, st loginState, c directory.Connection, id Identity) (directory.ConnectionTest, error) {
	cfg, err := ParseConnectionConfig(c.Config)
	if err != nil {
		return directory.ConnectionTest{}, err
	}
	org, err := t.dir.GetOrg(ctx, c.OrgID)
	if err != nil {
		return directory.ConnectionTest{}, err
	}
	role, workspaces := cfg.MapGroups(id.Groups)
	if workspaces == nil {
		workspaces = map[string]access.WorkspaceRole{}
	}
	groups := id.Groups
	if groups == nil {
		groups = []string{}
	}
	attrs := id.Attributes
	if attrs == nil {
		attrs = Attributes{}
	}
	res := directory.ConnectionTest{Status: directory.TestSucceeded,
		Identity: &directory.TestIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified,
			Name: id.Name, Groups: groups, Attributes: attrs},
		Mapping: &directory.TestMapping{MappedOrgRole: role, OrgRole: org.Settings.NewMemberRole(role), Workspaces: workspaces,
			JITMode: org.Settings.JITMode, Admission: org.Settings.JITMode.Admission()}}
	return t.finish(ctx, st.Test, res)
}

// refuse keeps a test's refusal: its reason code, cause, sentence and the
// reference of the operator's log line.
func (t *testRecorder) refuse(ctx context.Context, testID, reason, cause, message, ref string) (directory.ConnectionTest, error) {
	return t.finish(ctx, testID, directory.ConnectionTest{Status: directory.TestFailed, Reason: reason, Cause: cause,
		Message: message, Reference: ref})
}

// finish stores res as the result of pending test testID (once: a second
// result for the same test is refused by the store).
func (t *testRecorder) finish(ctx context.Context, testID string, res directory.ConnectionTest) (directory.ConnectionTest, error) {
	pending, err := t.peek(ctx, kindTestPending, testID)
	if err != nil {
		return res, err
	}
	now := t.now().UTC().Truncate(time.Second)
	res.ID, res.OrgID, res.ConnectionID, res.StartedBy = pending.ID, pending.OrgID, pending.ConnectionID, pending.StartedBy
	res.CreatedAt, res.ExpiresAt, res.CompletedAt = pending.CreatedAt, pending.ExpiresAt, &now
	ttl := res.ExpiresAt.Sub(t.now())
	if ttl <= 0 {
		return res, testNotFound(testID)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return res, err
	}
	if err := t.records.PutOnce(ctx, kindTestResult, testID, raw, ttl); err != nil {
		return res, fmt.Errorf("store the test result: %w", err)
	}
	return res, nil
}

// read returns test id: its result, or the pending test.
func (t *testRecorder) read(ctx context.Context, id string) (directory.ConnectionTest, error) {
	res, err := t.peek(ctx, kindTestResult, id)
	if !errors.Is(err, directory.ErrNotFound) {
		return res, err
	}
	return t.peek(ctx, kindTestPending, id)
}

// peek reads a test record without spending it: the store's records are
// single-use, so it takes the record and puts it back for the rest of its
// time. A reader that finds it taken by a concurrent reader tries again.
func (t *testRecorder) peek(ctx context.Context, kind session.Kind, id string) (directory.ConnectionTest, error) {
	var rec directory.ConnectionTest
	for attempt := 0; ; attempt++ {
		raw, err := t.records.TakeOnce(ctx, kind, id)
		if errors.Is(err, session.ErrNotFound) {
			if attempt >= 3 {
				return rec, testNotFound(id)
			}
			select {
			case <-ctx.Done():
				return rec, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return rec, err
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return rec, err
		}
		if ttl := rec.ExpiresAt.Sub(t.now()); ttl > 0 {
			if err := t.records.PutOnce(context.WithoutCancel(ctx), kind, id, raw, ttl); err != nil && !errors.Is(err, session.ErrExists) {
				t.log.WarnContext(ctx, "putting a test record back failed; the test is forgotten", "test", id, "err", err)
			}
		}
		return rec, nil
	}
}

// endTest sends the browser of test st to its landing page, or shows a
// short page when it has none.
func (s *Service) endTest(w http.ResponseWriter, r *http.Request, st loginState, res directory.ConnectionTest) {
	if st.ReturnTo != "" && ValidReturnTo(st.ReturnTo) {
		s.redirect(w, r, st.ReturnTo)
		return
	}
	title, msg := "Test sign-in refused", res.Message+" (reason "+res.Reason+")"
	if res.Status == directory.TestSucceeded && res.Identity != nil {
		title = "Test sign-in succeeded"
		msg = "The test sign-in succeeded: " + res.Identity.Email + " was authenticated. Nobody was signed in or provisioned."
	}
	s.render(w, r, http.StatusOK, "message", messagePageData{Title: title, Message: msg + " The result is kept as test " + res.ID + "."})
}

// completeTest is where a test's callback ends once the IdP's answer is
// verified and the state spent: the result is kept, nobody is provisioned.
func (s *Service) completeTest(w http.ResponseWriter, r *http.Request, st loginState, c directory.Connection, id Identity) {
	res, err := s.tests.complete(r.Context(), st, c, id)
	if err != nil {
		s.failTestStore(w, r, st, err)
		return
	}
	s.log.InfoContext(r.Context(), "test sign-in succeeded; nobody provisioned", "org", c.OrgID, "connection", c.ID, "test", st.Test)
	s.endTest(w, r, st, res)
}

// failTest keeps a refused test's reason as its result and ends the test.
func (s *Service) failTest(w http.ResponseWriter, r *http.Request, st loginState, f failure, reason, cause, ref string) {
	msg := f.message
	if f.err != nil && (errors.Is(f.err, ErrInvalidResponse) || errors.Is(f.err, ErrConfig) || errors.Is(f.err, ErrMissingClaim) ||
		errors.Is(f.err, ErrEmailNotVerified)) {
		// The admin testing the connection is the one who can fix it: the
		// connector's own sentence says what was refused.
		msg += " Detail: " + ConfigMessage(f.err) + "."
	}
	res, err := s.tests.refuse(r.Context(), st.Test, reason, cause, msg, ref)
	if err != nil {
		s.failTestStore(w, r, st, err)
		return
	}
	s.endTest(w, r, st, res)
}

func (s *Service) failTestStore(w http.ResponseWriter, r *http.Request, st loginState, err error) {
	s.log.ErrorContext(r.Context(), "keeping a test sign-in's result failed", "test", st.Test, "err", err)
	s.render(w, r, http.StatusServiceUnavailable, "message", messagePageData{Title: "Test result not kept",
		Message: "The test sign-in ran, but its result could not be kept. Please start a new test."})
}

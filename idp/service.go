package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/templates"
)

// Directory is what the sign-in flow reads and writes in the directory
// (*directory.SQLStore satisfies it).
type Directory interface {
	GetOrg(ctx context.Context, ref string) (directory.Organization, error)
	FindVerifiedDomain(ctx context.Context, domain string) (directory.Domain, error)
	ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error)
	LookupConnection(ctx context.Context, id string) (directory.Connection, error)
	GetUser(ctx context.Context, id string) (directory.User, error)
	ProvisionLogin(ctx context.Context, in directory.LoginIdentity) (directory.LoginOutcome, error)
	Subscribe(fn func()) (cancel func())
}

// Sessions is what the sign-in flow needs of the session store
// (session.Store satisfies it).
type Sessions interface {
	CreateSession(ctx context.Context, s session.Session) (session.Session, error)
	GetSession(ctx context.Context, id string) (session.Session, error)
	DeleteSession(ctx context.Context, id string) error
	PutOnce(ctx context.Context, kind session.Kind, key string, value []byte, ttl time.Duration) error
	TakeOnce(ctx context.Context, kind session.Kind, key string) ([]byte, error)
	Remember(ctx context.Context, kind session.Kind, key string, ttl time.Duration) (bool, error)
	// For SAML Single Logout (samllogout.go): the sessions of one upstream
	// session, and ending one by its handle with its refresh families.
	ListUserSessions(ctx context.Context, userID string) ([]session.Session, error)
	TagSession(ctx context.Context, tag, userID, handle string, expires time.Time) error
	SessionsTagged(ctx context.Context, tag string) ([]session.TaggedSession, error)
	DeleteSessionByHandle(ctx context.Context, userID, handle string) (bool, error)
	RevokeSessionFamilies(ctx context.Context, userID, sessionHandle string, keepOffline bool) (int, error)
}

// SecretOpener opens secrets sealed at rest (*secretbox.Box satisfies it).
type SecretOpener interface {
	Open(sealed, associatedData []byte) ([]byte, error)
}

// Options configures a Service. Issuer, Directory, Sessions and Connectors
// are required.
type Options struct {
	// Issuer is the broker's public base URL (SSOBROKER_ISSUER). Callback
	// URLs are built from it, and cookies are Secure when it is https.
	Issuer     string
	Directory  Directory
	Sessions   Sessions
	Connectors Registry
	// Secrets opens connection secrets; nil means no connection may have one.
	Secrets SecretOpener
	// Templates renders the pages; nil loads the embedded ones.
	Templates *templates.Set
	// HTTPClient is used for every call to an IdP; nil means
	// NewUpstreamClient(AllowPrivateUpstreams).
	HTTPClient *http.Client
	// AllowPrivateUpstreams lets connections reach IdPs on loopback and
	// private networks (see NewUpstreamClient). Ignored with HTTPClient.
	AllowPrivateUpstreams bool
	Logger                *slog.Logger
	// LoginStateTTL bounds an upstream login from redirect to callback
	// (default 10 minutes).
	LoginStateTTL time.Duration
	// SealKey (session.SealKeySize bytes, used for nothing else) seals the
	// login state each browser carries in a cookie during the upstream
	// round trip. Every replica needs the same key; empty means a random
	// key, which works in a single process only.
	SealKey []byte
	// Sources finds the network source of a request for per-source
	// budgets; the zero value trusts no proxy.
	Sources session.Sources
	// SAMLStartsPerMinute and SAMLStartBurst bound the SAML sign-ins one
	// source may start (each signs an AuthnRequest): default
	// DefaultSAMLStartsPerMinute, DefaultSAMLStartBurst at once. Past it
	// the source gets 429 and no request is signed.
	SAMLStartsPerMinute int
	SAMLStartBurst      int
	// ConnectorMaxAge is how long a built connector (discovery document,
	// SAML metadata) is reused before it is built again in the background
	// (default 1 hour). An unused connector is kept for 24 times as long,
	// so that the last good one outlives an IdP outage of a quiet night.
	ConnectorMaxAge time.Duration
	// Documents keeps each connection's last good IdP metadata (fetched
	// from a metadata URL) for when that URL is unreachable, at start or at
	// a refresh; nil keeps none.
	Documents UpstreamDocuments
	// Failures keeps and counts sign-in failures per connection (sign-in
	// diagnostics); nil keeps none.
	Failures FailureRecorder
	// JoinRequests, when set, is told about each new join request (an org
	// in approval mode) after it is stored, so that the org's admins hear of
	// it (idp/mail.JoinRequestNotices mails them); nil tells nobody.
	JoinRequests JoinRequestNotifier
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SessionCookieDomain is the session cookie's Domain
	// (SSOBROKER_SESSION_COOKIE_DOMAIN; session.ValidateCookieDomain):
	// empty, the cookie is the issuer host's alone.
	SessionCookieDomain string
	// TracerProvider makes the spans of the sign-in steps (tracing.go);
	// nil makes none (a no-op provider).
	TracerProvider trace.TracerProvider
}

// JoinRequestNotifier is told about a new join request. It must not block
// the sign-in: it returns at once and does its work in the background.
type JoinRequestNotifier interface {
	NotifyJoinRequest(ctx context.Context, org directory.Organization, user directory.User, req directory.JoinRequest)
}

// Service is the sign-in side of the broker: home-realm discovery, the
// upstream round trip, just-in-time provisioning and the browser session.
// Create it with New, mount it with Routes, stop it with Close.
type Service struct {
	opts     Options
	dir      Directory
	sessions Sessions
	pages    *templates.Set
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	tracer   trace.Tracer

	issuer string // without a trailing slash
	base   string // the issuer's path, prefixed to our redirects
	secure bool   // cookies are Secure
	// cookie writes the browser session cookie.
	cookie session.BrowserCookie

	tests       *testRecorder
	cache       *connectorCache
	sealer      *session.Sealer
	samlStarts  *sourceBudget
	changed     chan struct{}
	unsubscribe func()
	stop        chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
}

// New checks opts and returns a running Service. It fails when a required
// option is missing or the issuer is not an absolute http(s) URL.
func New(opts Options) (*Service, error) {
	if opts.Directory == nil || opts.Sessions == nil || len(opts.Connectors) == 0 {
		return nil, errors.New("idp: Directory, Sessions and Connectors are required")
	}
	u, err := url.Parse(opts.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("idp: issuer %q is not an absolute http(s) URL", opts.Issuer)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LoginStateTTL <= 0 {
		opts.LoginStateTTL = 10 * time.Minute
	}
	if opts.ConnectorMaxAge <= 0 {
		opts.ConnectorMaxAge = time.Hour
	}
	if opts.SAMLStartsPerMinute <= 0 {
		opts.SAMLStartsPerMinute = DefaultSAMLStartsPerMinute
	}
	if opts.SAMLStartBurst <= 0 {
		opts.SAMLStartBurst = DefaultSAMLStartBurst
	}
	domain, err := session.ValidateCookieDomain(opts.SessionCookieDomain, u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("idp: session cookie domain %q: %w", opts.SessionCookieDomain, err)
	}
	sealer := session.NewRandomSealer()
	if len(opts.SealKey) > 0 {
		if sealer, err = session.NewSealer(opts.SealKey); err != nil {
			return nil, fmt.Errorf("idp: %w", err)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Templates == nil {
		if opts.Templates, err = templates.Load(); err != nil {
			return nil, err
		}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewUpstreamClient(opts.AllowPrivateUpstreams)
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	s := &Service{
		opts:       opts,
		dir:        opts.Directory,
		sessions:   opts.Sessions,
		pages:      opts.Templates,
		client:     opts.HTTPClient,
		log:        opts.Logger.With("component", "idp"),
		now:        opts.Now,
		tracer:     opts.TracerProvider.Tracer(tracerName),
		issuer:     strings.TrimSuffix(opts.Issuer, "/"),
		base:       strings.TrimSuffix(u.Path, "/"),
		secure:     u.Scheme == "https",
		cookie:     session.BrowserCookie{Domain: domain, Secure: u.Scheme == "https"},
		cache:      newConnectorCache(opts.ConnectorMaxAge, opts.Now),
		sealer:     sealer,
		samlStarts: newSourceBudget(opts.SAMLStartsPerMinute, opts.SAMLStartBurst, maxBudgetSources, opts.Now),
		changed:    make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	s.tests = &testRecorder{dir: opts.Directory, records: opts.Sessions, now: opts.Now, log: s.log}
	s.cache.refreshFailed = func(id string, err error) {
		s.log.Warn("refreshing a connector (discovery document or SAML metadata) failed; the last good one stays in use",
			"connection", id, "err", err)
	}
	s.unsubscribe = s.dir.Subscribe(func() {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	})
	go s.sweepLoop()
	return s, nil
}

// Close stops the background sweep and forgets every built connector.
// Closing twice is harmless.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.unsubscribe()
		close(s.stop)
		<-s.done
	})
}

// Routes mounts the sign-in pages on mux:
//
//	GET  /login                      home-realm discovery (email form, or login_hint / organization)
//	POST /login                      the email form (CSRF)
//	GET  /login/{org}                an org's sign-in methods (?connection= picks one)
//	GET  /login/done                 who is signed in, with a sign-out button
//	POST /logout                     ends the browser session (CSRF)
//	GET  /sso/oidc/{conn}/callback   the upstream OIDC callback
//	GET  /sso/oidc/{conn}/logout/callback  back from the IdP's logout (upstreamlogout.go)
//	GET  /sso/logout?id=             a logout /oauth2/logout hands over to the IdP's
//	GET  /sso/saml/{conn}/metadata   our SAML SP metadata (signed)
//	POST /sso/saml/{conn}/acs        the SAML assertion consumer service
//	GET|POST /sso/saml/{conn}/slo    SAML Single Logout, both directions (samllogout.go)
//	GET  /sso/test/{token}           a test sign-in's one-time start (conntest.go)
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LoginPath, s.loginPage)
	mux.HandleFunc("POST "+LoginPath, s.loginSubmit)
	mux.HandleFunc("GET "+LoginDonePath, s.donePage)
	mux.HandleFunc("GET "+LoginPath+"/{org}", s.orgLogin)
	mux.HandleFunc("POST "+LogoutPath, s.logout)
	mux.HandleFunc("GET /sso/oidc/{conn}/callback", s.oidcCallback)
	mux.HandleFunc("GET /sso/oidc/{conn}/logout/callback", s.upstreamLogoutReturn)
	mux.HandleFunc("GET "+UpstreamLogoutPath, s.upstreamLogoutHandoff)
	mux.HandleFunc("GET /sso/saml/{conn}/metadata", s.samlMetadata)
	mux.HandleFunc("POST /sso/saml/{conn}/acs", s.samlACS)
	mux.HandleFunc("GET /sso/saml/{conn}/slo", s.samlSLO)
	mux.HandleFunc("POST /sso/saml/{conn}/slo", s.samlSLO)
	mux.HandleFunc("GET "+TestStartPath+"{token}", s.testStartPage)
}

// CallbackURL returns the absolute URL the upstream IdP of connection c
// sends the browser back to: what an admin registers at the IdP.
func (s *Service) CallbackURL(c directory.Connection) string {
	switch c.Type {
	case directory.ConnectionSAML:
		return s.issuer + "/sso/saml/" + url.PathEscape(c.ID) + "/acs"
	default:
		return s.issuer + "/sso/oidc/" + url.PathEscape(c.ID) + "/callback"
	}
}

// connector returns the (cached) connector of c.
func (s *Service) connector(ctx context.Context, c directory.Connection) (Connector, error) {
	factory := s.opts.Connectors[c.Type]
	if factory == nil {
		return nil, fmt.Errorf("%w: no connector for type %q", ErrConfig, c.Type)
	}
	return s.cache.get(ctx, c, func(ctx context.Context) (Connector, error) {
		cfg, err := ParseConnectionConfig(c.Config)
		if err != nil {
			return nil, err
		}
		in := FactoryInput{
			Connection:  c,
			Config:      cfg,
			OpenSecret:  func(sealed []byte) ([]byte, error) { return s.openSecret(c.ID, sealed) },
			HTTPClient:  s.client,
			CallbackURL: s.CallbackURL(c),
			Documents:   s.opts.Documents,
			Logger:      s.log.With("connection", c.ID),
		}
		if c.Type == directory.ConnectionSAML {
			in.EntityID, in.LogoutURL = s.EntityID(c), s.SAMLLogoutURL(c)
		}
		ctx, span := s.startSpan(ctx, spanConnectorBuild, c)
		conn, err := factory(ctx, in)
		if err != nil {
			err = fmt.Errorf("build %s connector: %w", c.Type, err)
		}
		endSpan(span, err)
		return conn, err
	})
}

func (s *Service) openSecret(connID string, sealed []byte) ([]byte, error) {
	if s.opts.Secrets == nil {
		return nil, fmt.Errorf("%w: the connection has a sealed secret and the server has no secret key to open it", ErrConfig)
	}
	pt, err := s.opts.Secrets.Open(sealed, []byte(connID))
	if err != nil {
		return nil, fmt.Errorf("%w: open client secret: %w", ErrConfig, err)
	}
	return pt, nil
}

// sweepLoop drops cached connectors whose connection changed (after a
// directory notification, at most once a second) or that were not used for
// 24 × ConnectorMaxAge.
func (s *Service) sweepLoop() {
	defer close(s.done)
	idle := time.NewTicker(s.opts.ConnectorMaxAge)
	defer idle.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-idle.C:
			s.cache.dropIdle()
		case <-s.changed:
			s.sweep()
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func (s *Service) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id, fp := range s.cache.snapshot() {
		c, err := s.dir.LookupConnection(ctx, id)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			s.cache.drop(id, fp)
		case err != nil:
			s.log.Warn("checking a cached connector failed; it is checked again at its next use", "connection", id, "err", err)
		case !c.Enabled || fingerprint(c) != fp:
			s.cache.drop(id, fp)
		}
	}
}

package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/directory/scim"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/directory/webhooks"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/console"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/session"
	"github.com/ssobroker/ssobroker/tokens"
	"github.com/ssobroker/ssobroker/tokens/backchannel"
	"github.com/ssobroker/ssobroker/tokens/external"
	"github.com/ssobroker/ssobroker/tokens/oauth"
	"github.com/ssobroker/ssobroker/tokens/opik"
)

// app is the wired broker: every package's handlers on one mux, and what has
// to be stopped at shutdown.
type app struct {
	sessions session.Store
	keys     *tokens.Keyring
	issuer   *tokens.Issuer
	stops    []func()
}

func (a *app) stop() {
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
}

// openSessions opens Redis when a URL is configured, else the in-process store.
func (e *env) openSessions(ctx context.Context) (session.Store, error) {
	if e.cfg.RedisURL == "" {
		return session.NewMemory(session.Options{}), nil
	}
	s, err := session.NewRedis(ctx, e.cfg.RedisURL, session.Options{TracerProvider: e.tel.storeProvider()})
	if err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	return s, nil
}

// openKeyring loads (creating on first start) the signing keys.
func (e *env) openKeyring(ctx context.Context, store *directory.SQLStore, box *secretbox.Box) (*tokens.Keyring, error) {
	keys, err := tokens.NewKeyring(store, box, tokens.KeyConfig{Algorithm: tokens.Algorithm(e.cfg.SigningAlg), IDTokenAlgorithm: tokens.Algorithm(e.cfg.IDTokenAlg), Log: e.log})
	if err != nil {
		return nil, err
	}
	if err := keys.Start(ctx); err != nil {
		keys.Close()
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// mountApp wires the broker's packages onto mux.
func mountApp(ctx context.Context, e *env, mux *http.ServeMux, store *directory.SQLStore, key []byte, checks map[string]pinger, metrics *httpMetrics) (*app, error) {
	a := &app{}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	if a.sessions, err = e.openSessions(ctx); err != nil {
		return nil, err
	}
	a.stops = append(a.stops, func() { _ = a.sessions.Close() })
	checks["sessions"] = a.sessions

	if a.keys, err = e.openKeyring(ctx, store, box); err != nil {
		a.stop()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.keys.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Error("signing key rotation stopped", "err", err)
		}
	}()
	a.stops = append(a.stops, func() { cancel(); <-done; a.keys.Close() })

	sources, err := e.cfg.sources()
	if err != nil {
		a.stop()
		return nil, err
	}
	policy, err := e.cfg.upstreamPolicy()
	if err != nil { // validate() refused it already; this is the same check
		a.stop()
		return nil, err
	}
	// With tracing on, every call to an IdP and every webhook delivery
	// carries the trace context (traceparent).
	upstream := e.tel.client(idp.NewUpstreamClientWithPolicy(policy))
	// Trusted issuers' JWTs (docs/jwt-issuers.md): their keys are fetched
	// through the same upstream client, under the same address policy.
	externalJWTs, err := external.New(external.Config{Store: store, HTTPClient: upstream, Logger: e.log})
	if err != nil {
		a.stop()
		return nil, err
	}
	// Failed client authentications are counted in the session store:
	// shared by the replicas when it is Redis.
	if a.issuer, err = tokens.NewIssuer(a.keys, store, tokens.IssuerConfig{Issuer: e.cfg.Issuer, Log: e.log,
		FailureCounter: a.sessions, ExternalJWTs: tokens.ExternalJWTs{Verifier: externalJWTs, Directory: store}}); err != nil {
		a.stop()
		return nil, err
	}
	// Whatever ends a browser session goes through the session store, which
	// reports it to the back-channel logout notifier (docs/logout.md).
	if err := a.startBackchannelLogout(e, store, upstream); err != nil {
		a.stop()
		return nil, err
	}
	// State browsers carry during sign-in is sealed with keys derived from
	// the secret key, one per purpose (docs/security.md, "Abuse
	// resistance: sign-in state").
	pendingKey, err := hkdf.Key(sha256.New, key, nil, "ssobroker sealing: pending authorizations", session.SealKeySize)
	if err != nil {
		a.stop()
		return nil, err
	}
	loginStateKey, err := hkdf.Key(sha256.New, key, nil, "ssobroker sealing: upstream login states", session.SealKeySize)
	if err != nil {
		a.stop()
		return nil, err
	}
	// The session cookie's Domain (validate() checked it): idp and the
	// console set it, tokens' logout clears it.
	cookieDomain, err := e.cfg.sessionCookieDomain()
	if err != nil {
		a.stop()
		return nil, err
	}
	provider, err := tokens.NewProvider(a.issuer, store, a.sessions, tokens.ProviderConfig{Log: e.log, SealKey: pendingKey,
		CookieDomain: cookieDomain})
	if err != nil {
		a.stop()
		return nil, err
	}
	srv, err := oauth.NewServer(a.keys, a.issuer, tokens.Features{
		ClientCredentials: true, Introspection: true, Revocation: true,
		AuthorizationCode: true, RefreshToken: true, UserInfo: true, EndSession: true, TokenExchange: true, BackchannelLogout: true,
	}, oauth.WithProvider(provider), oauth.WithSources(sources))
	if err != nil {
		a.stop()
		return nil, err
	}
	srv.Routes(mux)

	// The connector packages own their configuration's rules; the admin
	// API, the console and the setup link reach them through this.
	configurator, err := idp.NewConfigurator(idp.ConfiguratorConfig{Issuer: e.cfg.Issuer, Sealer: box, HTTPClient: upstream,
		Protocols: idp.Configurators{directory.ConnectionOIDC: oidc.Configurator{}, directory.ConnectionSAML: saml.Configurator{}}})
	if err != nil {
		a.stop()
		return nil, err
	}
	// Webhooks (docs/webhooks.md): http endpoints only where private
	// upstreams are allowed; deliveries go through the IdP fetch client, so
	// the same address policy applies.
	hooks, err := webhooks.NewAdmin(webhooks.AdminConfig{Store: store, Sealer: box, AllowHTTP: policy.AllowPrivate})
	if err != nil {
		a.stop()
		return nil, err
	}
	failedSignIns, err := a.startWebhooks(ctx, e, store, box, upstream)
	if err != nil {
		a.stop()
		return nil, err
	}
	// Invitation mail and join-request notices (idp/mail), when configured.
	invitationMail, joinNotices, err := e.outgoingMail(store)
	if err != nil {
		a.stop()
		return nil, err
	}
	login, err := idp.New(idp.Options{
		Issuer:     e.cfg.Issuer,
		Directory:  store,
		Sessions:   a.sessions,
		Secrets:    box,
		Connectors: idp.Registry{directory.ConnectionOIDC: oidc.New, directory.ConnectionSAML: saml.New},
		HTTPClient: upstream,
		Failures:   failureRecorder{store: store, metrics: metrics, log: e.log, events: failedSignIns},
		// A metadata URL's last good document survives a restart.
		Documents: store,
		Logger:    e.log,
		SealKey:   loginStateKey,
		Sources:   sources,
		// The org's admins hear of each new join request.
		JoinRequests: joinNotices,
		// Spans of the sign-in steps (tracing.go; no-op when off).
		TracerProvider: e.tel.tracerProvider(),
		// The session cookie reaches Opik on a sibling host (docs/opik.md).
		SessionCookieDomain: cookieDomain,
	})
	if err != nil {
		a.stop()
		return nil, err
	}
	a.stops = append(a.stops, login.Close)
	login.Routes(mux)

	admin, err := adminapi.New(adminapi.Config{
		Mailer:      invitationMail,
		Webhooks:    hooks,
		Store:       store,
		Tokens:      bearerVerifier{a.issuer},
		Sessions:    sessionRevoker{a.sessions},
		Connections: configurator,
		Failures:    store,
		SetupLinks:  store,
		Tests:       login,
		JWTIssuers:  store,
		Resolver:    e.cfg.txtResolver(),
		Logger:      e.log,
		Issuer:      e.cfg.Issuer,
	})
	if err != nil {
		a.stop()
		return nil, err
	}
	admin.Routes(mux)

	// SCIM 2.0 provisioning per org (docs/scim.md); deactivation ends
	// sessions through the same revoker the admin API uses.
	scimSrv, err := scim.New(scim.Config{Store: store, Sessions: sessionRevoker{a.sessions}, Issuer: e.cfg.Issuer, Logger: e.log})
	if err != nil {
		a.stop()
		return nil, err
	}
	scimSrv.Routes(mux)

	opikPerms, err := opik.ParsePermissionMap(e.cfg.OpikPermissionMap) // validate() checked it
	if err != nil {
		a.stop()
		return nil, err
	}
	opikAuth, err := opik.New(opik.Config{Directory: store, Sessions: a.sessions, Tokens: a.issuer,
		TrustUsernameHeader: e.cfg.OpikTrustUsernameHeader, Permissions: opikPerms, Logger: e.log})
	if err != nil {
		a.stop()
		return nil, err
	}
	a.stops = append(a.stops, opikAuth.Close)
	opikAuth.Routes(mux)

	// The admin console and /account (idp/console); it also serves /static/.
	web, err := console.New(console.Config{Issuer: e.cfg.Issuer, SessionCookieDomain: cookieDomain, Store: store, Sessions: a.sessions, Key: key, Logger: e.log,
		// The Connections and Domains tabs save through the admin API's path.
		Connections: admin, SelfService: store, Tests: login, Mailer: invitationMail,
		SignInLinks: signInLinks{store}, Invitations: store})
	if err != nil {
		a.stop()
		return nil, err
	}
	web.Routes(mux)
	return a, nil
}

// startBackchannelLogout wraps the session store so that every session
// that ends is reported to the back-channel logout notifier, and runs the
// notifier until the app stops.
func (a *app) startBackchannelLogout(e *env, store *directory.SQLStore, client *http.Client) error {
	n, err := backchannel.New(backchannel.Config{Clients: store, Outbox: store, Records: a.sessions, Tokens: a.issuer, HTTPClient: client,
		Logger: e.log})
	if err != nil {
		return err
	}
	a.sessions = session.WithEndListener(a.sessions, n)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(runCtx) }()
	a.stops = append(a.stops, func() { cancel(); <-done })
	return nil
}

// startWebhooks runs this replica's webhook worker, its sign-in failure
// aggregator and its certificate expiry check until the app stops; the
// database shares the deliveries among the replicas and decides which
// replica writes each signin.failed and certificate.expiring event
// (docs/webhooks.md).
func (a *app) startWebhooks(ctx context.Context, e *env, store *directory.SQLStore, box *secretbox.Box, client *http.Client) (*webhooks.FailureAggregator, error) {
	w, err := webhooks.NewWorker(webhooks.WorkerConfig{Store: store, Secrets: box, Client: client, Changes: store, Logger: e.log,
		IsBlocked: func(err error) bool { return errors.Is(err, idp.ErrBlockedAddress) }})
	if err != nil {
		return nil, err
	}
	failures, err := webhooks.NewFailureAggregator(webhooks.FailureAggregatorConfig{Store: store, Logger: e.log})
	if err != nil {
		return nil, err
	}
	expiryCfg, err := e.cfg.certExpiry() // validate() checked it
	if err != nil {
		return nil, err
	}
	expiryCfg.Store, expiryCfg.Logger = store, e.log
	expiry, err := saml.NewExpiryCheck(expiryCfg)
	if err != nil {
		return nil, err
	}
	for _, run := range []func(context.Context) error{w.Run, failures.Run, expiry.Run} {
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); _ = run(runCtx) }()
		a.stops = append(a.stops, func() { cancel(); <-done })
	}
	return failures, nil
}

// bearerVerifier lets the admin API accept the broker's own access tokens;
// it says whether a token was issued for the admin API (scope
// ssobroker:admin), which a user's token needs there.
type bearerVerifier struct{ issuer *tokens.Issuer }

func (b bearerVerifier) VerifyAccessToken(ctx context.Context, token string) (adminapi.TokenPrincipal, error) {
	c, err := b.issuer.VerifyAccessToken(ctx, token)
	if err != nil {
		if errors.Is(err, tokens.ErrInvalidAccessToken) {
			return adminapi.TokenPrincipal{}, err
		}
		return adminapi.TokenPrincipal{}, fmt.Errorf("%w: %v", adminapi.ErrVerifierUnavailable, err)
	}
	tp := adminapi.TokenPrincipal{Subject: c.Subject, OrgID: c.Org.ID, AdminAPI: b.issuer.IssuedForAdminAPI(c)}
	if c.Narrowed != nil {
		tp.Workspace = c.Narrowed.ID
	}
	return tp, nil
}

// failureRecorder keeps a failed sign-in in the connection's diagnostics
// (the directory keeps the last 50), counts it by connection and reason,
// and hands it to the signin.failed aggregator; a failure through no
// existing connection is none of these.
type failureRecorder struct {
	store   *directory.SQLStore
	metrics *httpMetrics
	log     *slog.Logger
	events  *webhooks.FailureAggregator
}

func (f failureRecorder) RecordSignInFailure(ctx context.Context, fl idp.SignInFailure) {
	kept, err := f.store.RecordConnectionFailure(ctx, directory.ConnectionFailure{OrgID: fl.OrgID, ConnectionID: fl.ConnectionID,
		Reason: fl.Reason, Reference: fl.Reference, At: fl.At, DetailClass: fl.Cause})
	if err != nil {
		f.log.WarnContext(ctx, "keeping a sign-in failure for the connection's diagnostics failed", "connection", fl.ConnectionID, "err", err)
		return
	}
	if !kept {
		return
	}
	if f.metrics != nil {
		f.metrics.signInFailures.WithLabelValues(fl.ConnectionID, fl.Reason).Inc()
	}
	if f.events != nil {
		f.events.Add(fl.ConnectionID, fl.Reason, fl.Cause, fl.At)
	}
}

// sessionRevoker ends a removed member's browser sessions and refresh tokens.
type sessionRevoker struct{ s session.Store }

func (r sessionRevoker) RevokeUser(ctx context.Context, _, userID string) error {
	if _, err := r.s.RevokeUserSessions(ctx, userID); err != nil {
		return err
	}
	_, err := r.s.RevokeUserFamilies(ctx, userID)
	return err
}

func redactedRedis(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

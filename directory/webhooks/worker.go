package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// Store is what the worker needs of the directory; *directory.SQLStore
// satisfies it.
type Store interface {
	FanOutWebhookEvents(ctx context.Context, derive func(directory.Webhook, directory.AuditEvent) []string, batch int) (int, error)
	ClaimWebhookDeliveries(ctx context.Context, c directory.WebhookClaim) ([]directory.WebhookJob, error)
	RecordWebhookAttempt(ctx context.Context, owner, id string, a directory.WebhookAttempt) (bool, error)
	PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Notifier calls fn after every committed directory change;
// *directory.SQLStore satisfies it (here and, through the database, for
// changes by other replicas).
type Notifier interface {
	Subscribe(fn func()) (cancel func())
}

// Opener opens sealed secrets (*secretbox.Box satisfies it).
type Opener interface {
	Open(sealed, associatedData []byte) ([]byte, error)
}

// Defaults of WorkerConfig.
const (
	DefaultPoll       = time.Second
	DefaultTimeout    = 5 * time.Second
	DefaultSenders    = 16
	DefaultPerWebhook = 4
	DefaultLease      = 15 * time.Second
	DefaultRetryFor   = 24 * time.Hour
	DefaultRetention  = 30 * 24 * time.Hour
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff = time.Hour
)

// WorkerConfig is what NewWorker needs: Store, Secrets and Client are
// required, the rest has defaults.
type WorkerConfig struct {
	Store   Store
	Secrets Opener
	// Client sends deliveries. The wiring gives the same safe client the
	// broker uses for IdP fetches, so an org admin's URL goes through the
	// same address policy (docs/security.md).
	Client *http.Client
	// Changes wakes the worker as soon as something is committed; without
	// it the worker notices within Poll.
	Changes Notifier
	// IsBlocked tells an address refused by the client's policy (class
	// "blocked" in the delivery log); nil classes them as "connect".
	IsBlocked func(error) bool
	Logger    *slog.Logger
	// Poll is how often the worker looks for work without being woken.
	Poll time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Senders is how many deliveries a worker sends at once, and
	// PerWebhook how many of them may go to one webhook.
	Senders, PerWebhook int
	// Lease is how long a claimed delivery is this worker's; a worker that
	// dies leaves it to the others after that.
	Lease time.Duration
	// RetryFor is how long a delivery is retried before it is failed.
	RetryFor time.Duration
	// Retention is how long delivered and failed deliveries stay in the log.
	Retention time.Duration
	// Backoff is the wait after the n-th failed attempt; nil is Backoff.
	Backoff func(n int) time.Duration
	// Now returns the current time; nil is time.Now.
	Now func() time.Time
}

// Worker delivers webhook events. Every replica runs one; the database
// decides which replica sends which delivery.
type Worker struct {
	cfg   WorkerConfig
	owner string
	log   *slog.Logger

	mu   sync.Mutex
	busy map[string]int // webhook id → deliveries being sent
	n    int            // deliveries being sent
}

// NewWorker checks cfg and returns a Worker; Run starts it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("webhooks: WorkerConfig.Store is required")
	case cfg.Secrets == nil:
		return nil, errors.New("webhooks: WorkerConfig.Secrets is required")
	case cfg.Client == nil:
		return nil, errors.New("webhooks: WorkerConfig.Client is required (the safe upstream client)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Lease, DefaultLease)
	def(&cfg.RetryFor, DefaultRetryFor)
	def(&cfg.Retention, DefaultRetention)
	if cfg.Senders <= 0 {
		cfg.Senders = DefaultSenders
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = DefaultPerWebhook
	}
	if cfg.Lease < cfg.Timeout+5*time.Second {
		cfg.Lease = cfg.Timeout + 5*time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Worker{cfg: cfg, owner: "wkr_" + hex.EncodeToString(b), log: log, busy: map[string]int{}}, nil
}

// Backoff is the default wait after the n-th failed attempt: 1 s doubling
// to MaxBackoff, each wait drawn from [75 %, 125 %] of that (jitter, so
// that deliveries that failed together do not retry together).
func Backoff(n int) time.Duration {
	d := MaxBackoff
	if n >= 1 && n <= 13 {
		d = min(time.Second<<(n-1), MaxBackoff)
	}
	return time.Duration(float64(d) * (0.75 + 0.5*randv2.Float64()))
}

// Run delivers until ctx ends, then waits for the attempts in flight (each
// bounded by the timeout) and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if w.cfg.Changes != nil {
		cancel := w.cfg.Changes.Subscribe(poke)
		defer cancel()
	}
	var sends sync.WaitGroup
	defer sends.Wait()
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		w.round(ctx, &sends, poke)
		if now := w.cfg.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if n, err := w.cfg.Store.PruneWebhookDeliveries(ctx, now.Add(-w.cfg.Retention)); err != nil {
				w.log.Warn("webhooks: pruning the delivery log failed", "err", err)
			} else if n > 0 {
				w.log.Info("webhooks: pruned old deliveries", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-wake:
		}
	}
}

// round turns new audit rows into deliveries and starts the due ones.
func (w *Worker) round(ctx context.Context, sends *sync.WaitGroup, poke func()) {
	for range 20 { // bounded: a burst is drained over a few rounds
		n, err := w.cfg.Store.FanOutWebhookEvents(ctx, Derive, 500)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("webhooks: reading new events failed; retrying", "err", err)
			}
			break
		}
		if n == 0 {
			break
		}
	}
	w.mu.Lock()
	free := w.cfg.Senders - w.n
	busy := make(map[string]int, len(w.busy))
	for k, v := range w.busy {
		busy[k] = v
	}
	w.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return
	}
	jobs, err := w.cfg.Store.ClaimWebhookDeliveries(ctx, directory.WebhookClaim{
		Owner: w.owner, Now: w.cfg.Now(), Lease: w.cfg.Lease, Limit: free, PerWebhook: w.cfg.PerWebhook, Busy: busy,
	})
	if err != nil && ctx.Err() == nil {
		w.log.Warn("webhooks: claiming deliveries failed; retrying", "err", err)
	}
	for _, j := range jobs {
		w.mu.Lock()
		w.busy[j.Delivery.WebhookID]++
		w.n++
		w.mu.Unlock()
		sends.Add(1)
		go func() {
			defer sends.Done()
			w.deliver(j)
			w.mu.Lock()
			if w.busy[j.Delivery.WebhookID]--; w.busy[j.Delivery.WebhookID] <= 0 {
				delete(w.busy, j.Delivery.WebhookID)
			}
			w.n--
			w.mu.Unlock()
			poke() // room for more
		}()
	}
}

// deliver makes one attempt and records it. It runs to its end even while
// the worker stops, so that a clean shutdown leaves no lease behind.
func (w *Worker) deliver(j directory.WebhookJob) {
	ctx := context.Background()
	code, class := w.attempt(ctx, j)
	now := w.cfg.Now()
	a := directory.WebhookAttempt{At: now, StatusCode: code, ErrorClass: class, NextAttemptAt: now}
	n := j.Delivery.Attempts + 1
	switch {
	case class == "":
		a.Status = directory.DeliveryDelivered
	case now.Sub(j.Delivery.CreatedAt) >= w.cfg.RetryFor:
		a.Status = directory.DeliveryFailed
	default:
		a.Status = directory.DeliveryPending
		a.NextAttemptAt = now.Add(w.cfg.Backoff(n))
	}
	if class != "" {
		w.log.Info("webhooks: delivery attempt failed", "delivery", j.Delivery.ID, "webhook", j.Delivery.WebhookID,
			"attempt", n, "class", class, "status", code, "next", a.Status)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.cfg.Store.RecordWebhookAttempt(rctx, w.owner, j.Delivery.ID, a); err != nil {
		w.log.Warn("webhooks: recording a delivery attempt failed; it will be sent again after its lease", "delivery", j.Delivery.ID, "err", err)
	}
}

// attempt sends j once and returns the HTTP status (0 without an answer)
// and the error class ("" when delivered).
func (w *Worker) attempt(ctx context.Context, j directory.WebhookJob) (int, string) {
	secret, err := w.cfg.Secrets.Open(j.SealedSecret, []byte(j.Delivery.WebhookID))
	if err != nil {
		w.log.Error("webhooks: cannot open a webhook's signing secret", "webhook", j.Delivery.WebhookID, "err", err)
		return 0, "secret"
	}
	body, err := Body(j.Delivery.EventType, j.Event)
	if err != nil {
		return 0, "payload"
	}
	stamp := w.cfg.Now().Unix()
	sig, err := Sign(string(secret), j.Delivery.ID, stamp, body)
	if err != nil {
		return 0, "secret"
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "url"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ssobroker-webhooks/1")
	req.Header.Set("webhook-id", j.Delivery.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(stamp, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, w.classify(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, "status"
	}
	return resp.StatusCode, ""
}

// classify names the kind of a transport error for the delivery log,
// without its text (which may echo the URL).
func (w *Worker) classify(err error) string {
	var ne net.Error
	var op *net.OpError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var rh tls.RecordHeaderError
	switch {
	case w.cfg.IsBlocked != nil && w.cfg.IsBlocked(err):
		return "blocked"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &rh):
		return "tls"
	case errors.As(err, &op) && op.Op == "dial":
		return "connect"
	}
	return "network"
}

package e2e

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser is a user agent: one cookie jar (cookies are per host, not per
// port, so the two replicas on 127.0.0.1 share them as two replicas behind
// one name do), redirects followed one at a time, every request timed.
type browser struct {
	t    *testing.T
	c    *http.Client
	hops []hop
}

// hop is one request the browser made.
type hop struct {
	url    string
	status int
	took   time.Duration
	broker bool // to a replica of the broker (else the upstream IdP)
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// page is one answer, body read.
type page struct {
	url    *url.URL
	status int
	header http.Header
	body   string
}

func (p page) location() *url.URL {
	loc := p.header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := p.url.Parse(loc)
	if err != nil {
		return nil
	}
	return u
}

func (p page) redirect() bool { return p.status >= 300 && p.status < 400 }

// text is the body with HTML entities decoded.
func (p page) text() string { return html.UnescapeString(p.body) }

var metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=([^"]+)">`)

// refresh returns the target of an interstitial page's meta refresh, or nil.
func (p page) refresh() *url.URL {
	m := metaRefresh.FindStringSubmatch(p.body)
	if m == nil {
		return nil
	}
	u, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil
	}
	return u
}

// get requests u; broker says whether it is a hop to the broker.
func (b *browser) get(u string, broker bool) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	start := time.Now()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	b.hops = append(b.hops, hop{url: u, status: resp.StatusCode, took: took, broker: broker})
	return page{url: req.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// brokerTime and upstreamTime sum the browser's hops to each side.
func (b *browser) brokerTime() (d time.Duration) {
	for _, h := range b.hops {
		if h.broker {
			d += h.took
		}
	}
	return d
}

func (b *browser) upstreamTime() (d time.Duration) {
	for _, h := range b.hops {
		if !h.broker {
			d += h.took
		}
	}
	return d
}

// trace lists the hops, for failure messages.
func (b *browser) trace() string {
	var s strings.Builder
	for _, h := range b.hops {
		s.WriteString("  ")
		s.WriteString(http.StatusText(h.status))
		s.WriteString(" ← ")
		s.WriteString(h.url)
		s.WriteString("\n")
	}
	return s.String()
}

// account is an upstream user: what the scriptable login of
// upstream-idp.mjs defines for this login.
type account struct {
	id, email, name string
	verified        string // "true" (default), "false" or "absent"
	groups          []string
}

func (a account) query() url.Values {
	q := url.Values{"account": {a.id}, "email": {a.email}, "name": {a.name}, "email_verified": {a.verified}}
	if a.verified == "" {
		q.Set("email_verified", "true")
	}
	if a.groups != nil {
		q.Set("groups", strings.Join(a.groups, ","))
	}
	return q
}

// nav says how to drive one navigation.
type nav struct {
	login account
	// route may rewrite a URL of the broker before it is requested: which
	// replica serves this step. nil: the one addressed (the issuer, A).
	route func(u *url.URL)
	// edit may change any URL before it is requested (tampering).
	edit func(u *url.URL)
}

// navigate follows a browser from start through the broker and the
// upstream IdP until it is sent to the relying party (whose URL is
// returned, not requested) or an answer is neither a redirect nor an
// interstitial (returned as the page).
func (w *world) navigate(b *browser, start string, n nav) (*url.URL, page) {
	t := b.t
	t.Helper()
	next, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	var p page
	for range 20 {
		if strings.HasPrefix(next.String(), rpOrigin+"/") {
			return next, p
		}
		if !w.isBroker(next) && strings.HasPrefix(next.Path, "/interaction/") {
			q := next.Query()
			for k, v := range n.login.query() {
				q[k] = v
			}
			next.RawQuery = q.Encode()
		}
		if n.edit != nil {
			n.edit(next)
		}
		broker := w.isBroker(next)
		if broker && n.route != nil {
			n.route(next)
		}
		p = b.get(next.String(), broker)
		switch {
		case p.redirect() && p.location() != nil:
			next = p.location()
		case p.status == http.StatusOK && p.refresh() != nil:
			next = p.refresh()
		default:
			return nil, p
		}
	}
	t.Fatalf("more than 20 redirects:\n%s", b.trace())
	return nil, p
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/ssobroker/ssobroker/directory"
)

// startTXTServer serves one TXT record on a loopback UDP port (miekg/dns);
// every other name is NXDOMAIN.
func startTXTServer(t *testing.T, name, value string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if !strings.EqualFold(q.Name, dns.Fqdn(name)) {
			m.Rcode = dns.RcodeNameError
		} else if q.Qtype == dns.TypeTXT {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{value}})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSResolverAsksOnlyTheConfiguredServer(t *testing.T) {
	addr := startTXTServer(t, "_ssobroker-challenge.acme.test", "ssobroker-verify=tok")
	r, err := dnsResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := r.LookupTXT(context.Background(), "_ssobroker-challenge.acme.test")
	if err != nil || len(txt) != 1 || txt[0] != "ssobroker-verify=tok" {
		t.Fatalf("TXT %v, %v", txt, err)
	}
	_, err = r.LookupTXT(context.Background(), "other.acme.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("a missing name: %v", err)
	}
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:0", ":53", "127.0.0.1:dns", "[::1]:70000"} {
		if _, err := dnsResolver(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	code, _, stderr := runCLI(t, map[string]string{"SSOBROKER_DATA_DIR": t.TempDir(), "SSOBROKER_DNS_RESOLVER": "nowhere"}, "admin", "org", "list")
	if code != exitUsage || !strings.Contains(stderr, "SSOBROKER_DNS_RESOLVER") {
		t.Fatalf("a bad SSOBROKER_DNS_RESOLVER: exit %d: %s", code, stderr)
	}
}

func TestDomainMarkVerifiedIsAnAuditedOverride(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SSOBROKER_DATA_DIR": dir}
	if code, _, stderr := runCLI(t, env, "admin", "org", "create", "--name", "Acme"); code != exitOK {
		t.Fatal(stderr)
	}
	// Not claimed yet: refused, naming how to claim it.
	code, _, stderr := runCLI(t, env, "admin", "domain", "mark-verified", "--org", "acme", "--domain", "acme.test")
	if code != exitFailed || !strings.Contains(stderr, "has not claimed") {
		t.Fatalf("unclaimed domain: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, env, "admin", "domain", "mark-verified", "--org", "acme"); code != exitUsage {
		t.Fatalf("no --domain: exit %d", code)
	}
	ctx := context.Background()
	s, err := directory.OpenSQLite(ctx, (&config{DataDir: dir}).sqlitePath(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.GetOrg(ctx, "acme")
	if err == nil {
		_, err = s.AddDomain(ctx, "system:test", o.ID, "acme.test")
	}
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, env, "admin", "domain", "mark-verified", "--org", "acme", "--domain", "ACME.test", "--json")
	var d directory.Domain
	if code != exitOK || json.Unmarshal([]byte(out), &d) != nil || d.VerifiedAt == nil || d.Domain != "acme.test" {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	s, err = directory.OpenSQLite(ctx, (&config{DataDir: dir}).sqlitePath(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.FindVerifiedDomain(ctx, "acme.test"); err != nil || got.OrgID != o.ID {
		t.Fatalf("verified domain %+v, %v", got, err)
	}
	events, _, err := s.ListAudit(ctx, o.ID, directory.AuditFilter{Action: "domain.verify", Page: directory.Page{Limit: 10}})
	if err != nil || len(events) != 1 || events[0].Actor != cliActor {
		t.Fatalf("audit %+v, %v", events, err)
	}
}

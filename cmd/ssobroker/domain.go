package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
)

// dnsDialTimeout bounds one connection to the configured DNS server.
const dnsDialTimeout = 5 * time.Second

// dnsResolver is the resolver domain verification asks for TXT records:
// the system's when addr is empty, else Go's own resolver talking only to
// the DNS server at addr (host:port), for air-gapped deployments and tests.
func dnsResolver(addr string) (adminapi.TXTResolver, error) {
	if addr == "" {
		return adminapi.NetResolver{}, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("want host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
		return nil, errors.New("want host:port with a port from 1 to 65535")
	}
	d := net.Dialer{Timeout: dnsDialTimeout}
	return adminapi.NetResolver{Resolver: &net.Resolver{
		PreferGo: true,
		// The Go resolver asks over UDP, and over TCP when an answer is
		// truncated: either way to addr, whatever server it had in mind.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}, nil
}

// txtResolver is the configured resolver. validate refuses a bad
// SSOBROKER_DNS_RESOLVER before this runs; should it not have, every lookup
// fails (closed) rather than falling back to another server.
func (c *config) txtResolver() adminapi.TXTResolver {
	r, err := dnsResolver(c.DNSResolver)
	if err != nil {
		return adminapi.NetResolver{Resolver: &net.Resolver{PreferGo: true,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, fmt.Errorf("SSOBROKER_DNS_RESOLVER: %w", err)
			}}}
	}
	return r
}

// domainMarkVerifiedCommand is the operator's override of DNS verification:
// it marks a domain the org already claimed (POST
// /api/v1/orgs/{org}/domains) verified without looking for the TXT record.
// The change is in the org's audit log as domain.verify by system:cli.
func domainMarkVerifiedCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	domain := fs.String("domain", "", "a domain the organization has claimed")
	return func(ctx context.Context, e *env) error {
		if err := errors.Join(required("org", *org), required("domain", *domain)); err != nil {
			return err
		}
		s, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		o, err := s.GetOrg(ctx, *org)
		if err != nil {
			return err
		}
		d, err := s.MarkDomainVerified(ctx, cliActor, o.ID, *domain)
		if errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("organization %q has not claimed %s: add it first (POST /api/v1/orgs/%s/domains): %w", o.Name, *domain, o.ID, err)
		}
		if err != nil {
			return err
		}
		return e.print(d, fmt.Sprintf("%s is verified for %q (%s) by operator override, recorded in its audit log as %s\n", d.Domain, o.Name, o.ID, cliActor))
	}
}

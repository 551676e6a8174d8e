package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/adminapi"
	"github.com/ssobroker/ssobroker/directory/secretbox"
	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/oidc"
	"github.com/ssobroker/ssobroker/idp/saml"
)

// spKeyRotateCommand takes one step of a SAML connection's SP key rotation
// (docs/operations.md, "Rotating a SAML connection's SP key"), the same way
// POST /api/v1/orgs/{org}/connections/{id}/sp-keys/rotate does, audited as
// connection.sp_key.<step> with the operator as actor.
func spKeyRotateCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	org := fs.String("org", "", "organization id or name")
	conn := fs.String("connection", "", "the SAML connection's id")
	step := fs.String("step", "", "publish | activate | retire")
	return func(ctx context.Context, e *env) error {
		if err := errors.Join(required("connection", *conn), required("step", *step)); err != nil {
			return err
		}
		box, err := e.secretBox()
		if err != nil {
			return err
		}
		rot, err := idp.NewConfigurator(idp.ConfiguratorConfig{Issuer: e.cfg.Issuer, Sealer: box,
			Protocols: idp.Configurators{directory.ConnectionOIDC: oidc.Configurator{}, directory.ConnectionSAML: saml.Configurator{}}})
		if err != nil {
			return err
		}
		return e.withOrg(ctx, *org, func(s *directory.SQLStore, o directory.Organization) error {
			keys, err := adminapi.RotateSPKey(ctx, s, rot, e.actor(), o.ID, *conn, *step)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "current  %s (signs)\n", keys.Current.SHA256)
			if keys.Next != nil {
				fmt.Fprintf(&b, "next     %s (published in the SP metadata; activate it once the IdP has read it)\n", keys.Next.SHA256)
			}
			if keys.Previous != nil {
				fmt.Fprintf(&b, "previous %s (decrypts only; retire it once the IdP encrypts to the current one)\n", keys.Previous.SHA256)
			}
			return e.print(keys, b.String())
		})
	}
}

// secretBox is the deployment's secret box (SSOBROKER_SECRET_KEY), which
// seals signing keys and connection secrets at rest.
func (e *env) secretBox() (*secretbox.Box, error) {
	key, err := e.cfg.secretKey(e.log)
	if err != nil {
		return nil, err
	}
	return secretbox.New(key)
}

package adminapi

import (
	"context"

	"github.com/ssobroker/ssobroker/directory"
)

// The fake configurator takes every rotation step without changing the
// configuration (the steps themselves are proven in idp/saml: spkeys_test.go).

func (fakeConfigurator) RotateSPKey(_ context.Context, conn directory.Connection, _ string) ([]byte, directory.SPKeys, error) {
	return conn.Config, directory.SPKeys{}, nil
}

func (fakeConfigurator) SPKeys(directory.Connection) (directory.SPKeys, error) {
	return directory.SPKeys{}, nil
}

// spKeysConnection is one connection of org A shared by the SP key cases of
// the permission matrix (a fresh one per case would flood the event outbox
// the webhook cases read).
func (f *fixture) spKeysConnection() string {
	if f.ids["a-spkeys-conn"] == "" {
		f.ids["a-spkeys-conn"] = f.newConnection()
	}
	return f.ids["a-spkeys-conn"]
}

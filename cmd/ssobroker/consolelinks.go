package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/idp/console"
)

// signInLinks lets the console redeem the operator's one-time sign-in links
// (ssobroker admin bootstrap, admin sign-in-link) that the directory keeps.
type signInLinks struct{ store *directory.SQLStore }

func (l signInLinks) RedeemSignInLink(ctx context.Context, token string) (console.RedeemedLink, error) {
	link, err := l.store.RedeemSignInLink(ctx, token)
	switch {
	case errors.Is(err, directory.ErrLinkExpired):
		return console.RedeemedLink{}, fmt.Errorf("%w: %w", console.ErrLinkExpired, err)
	case errors.Is(err, directory.ErrLinkUsed):
		return console.RedeemedLink{}, fmt.Errorf("%w: %w", console.ErrLinkUsed, err)
	case err != nil:
		return console.RedeemedLink{}, err
	}
	return console.RedeemedLink{OrgID: link.OrgID, UserID: link.UserID}, nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/tokens"
)

// withKeyring runs fn with the deployment's keyring, loaded from the store.
func (e *env) withKeyring(ctx context.Context, fn func(*tokens.Keyring) error) error {
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	box, err := e.secretBox()
	if err != nil {
		return err
	}
	keys, err := e.openKeyring(ctx, s, box)
	if err != nil {
		return err
	}
	defer keys.Close()
	return fn(keys)
}

func keysRotateCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return e.withKeyring(ctx, func(keys *tokens.Keyring) error {
			r, err := keys.ForceRotate(ctx)
			if err != nil {
				return err
			}
			var b strings.Builder
			if len(r.Created) > 0 {
				fmt.Fprintf(&b, "published next key %s (not signing yet)\n", strings.Join(r.Created, ", "))
			}
			if r.Activated != "" {
				fmt.Fprintf(&b, "activated %s\n", r.Activated)
			}
			if len(r.Retired) > 0 {
				fmt.Fprintf(&b, "retired %s (published until %s)\n", strings.Join(r.Retired, ", "), r.RetiredUntil.Format(time.RFC3339))
			}
			if r.IDTokenActivated != "" {
				fmt.Fprintf(&b, "activated ID-token key %s\n", r.IDTokenActivated)
			}
			if r.IDTokenActive != "" {
				fmt.Fprintf(&b, "active ID-token key %s", r.IDTokenActive)
				if r.IDTokenNext != "" {
					fmt.Fprintf(&b, "; next ID-token key %s", r.IDTokenNext)
				}
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "active key %s", r.Active)
			if r.Next != "" {
				fmt.Fprintf(&b, "; next key %s may sign from %s (it must be published for a JWKS cache lifetime first)", r.Next, r.NextActivation.Format(time.RFC3339))
			}
			b.WriteString("\n")
			return e.print(r, b.String())
		})
	}
}

func keysListCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		return e.withKeyring(ctx, func(keys *tokens.Keyring) error {
			infos := keys.Keys()
			var b strings.Builder
			for _, k := range infos {
				fmt.Fprintf(&b, "%s\t%s\t%s\tcreated %s\n", k.ID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339))
			}
			return e.print(infos, b.String())
		})
	}
}

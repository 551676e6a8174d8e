package tokens

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// Rotation reports what one Rotate call changed.
type Rotation struct {
	// Created lists keys inserted in state next.
	Created []string
	// Activated is the key that became active, if any.
	Activated string
	// Retired lists keys that stopped signing; they stay published until RetiredUntil.
	Retired      []string
	RetiredUntil time.Time
	// Deleted counts retired keys removed because every token they signed has expired.
	Deleted int
	// Active is the key signing after the call, and Next the key that follows it.
	Active, Next string
	// NextActivation is the earliest time Next may become active: RotateEvery
	// after the active key's activation, and PublishLead after Next appeared.
	NextActivation time.Time
	// IDTokenActivated, IDTokenActive and IDTokenNext are Activated, Active
	// and Next of the ID-token lane, when ID tokens have their own keys
	// (KeyConfig.IDTokenAlgorithm); Created and Retired list both lanes.
	IDTokenActivated, IDTokenActive, IDTokenNext string
}

// Rotate does whatever key maintenance is due, and is the only code that
// changes keys: the background loop (Run) calls it every RotationCheck in
// every replica, and `ssobroker keys rotate` calls ForceRotate. It
//
//   - deletes retired keys whose tokens have all expired;
//   - activates a key when none is active (a new deployment, or after an
//     emergency deletion): the oldest next key, or a new one;
//   - when the active key has signed for RotateEvery, activates the next key
//     — only if it has been published for PublishLead — and retires the old
//     one, keeping it published until MaxTokenTTL + Leeway + ReloadInterval later;
//   - makes sure a next key is published for the following rotation.
//
// Each lane — access-token keys, and ID-token keys when they use another
// algorithm — goes through these steps on its own keys.
//
// Every state change is a compare-and-swap in the store, so replicas running
// Rotate at once agree; a replica that loses a race just reloads. It fails
// when the store does; a partial rotation is completed by the next call.
func (k *Keyring) Rotate(ctx context.Context) (Rotation, error) {
	return k.rotate(ctx, false)
}

// ForceRotate is Rotate with the active key's period treated as over: the
// next key becomes active now if it has been published for PublishLead.
// Otherwise nothing is activated and Rotation.NextActivation says when it can
// be; running ForceRotate again then completes it.
func (k *Keyring) ForceRotate(ctx context.Context) (Rotation, error) {
	return k.rotate(ctx, true)
}

func (k *Keyring) rotate(ctx context.Context, force bool) (Rotation, error) {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()
	var res Rotation
	now := k.cfg.Now()
	n, err := k.store.DeleteExpiredSigningKeys(ctx, now)
	if err != nil {
		return res, fmt.Errorf("tokens: delete expired keys: %w", err)
	}
	res.Deleted = n
	for _, l := range k.cfg.lanes() {
		if err := k.rotateLane(ctx, &res, l, now, force); err != nil {
			return res, err
		}
	}
	if err := k.Reload(ctx); err != nil {
		return res, err
	}
	k.describe(&res, force)
	return res, nil
}

// rotateLane does the rotation steps on the keys of lane l.
func (k *Keyring) rotateLane(ctx context.Context, res *Rotation, l lane, now time.Time, force bool) error {
	keys, err := k.list(ctx, l)
	if err != nil {
		return err
	}
	active := newestActive(keys)
	if active == nil {
		if err := k.activateFirst(ctx, res, l, keys, now); err != nil {
			return err
		}
	} else if candidate := k.dueNext(keys, active, now, force); candidate != nil {
		moved, err := k.store.TransitionSigningKey(ctx, candidate.ID, directory.KeyNext, directory.KeyActive, now, nil)
		if err != nil {
			return fmt.Errorf("tokens: activate key %s: %w", candidate.ID, err)
		}
		if moved {
			res.activated(l, candidate.ID)
			k.cfg.Log.Info("signing key activated", "kid", candidate.ID, "replaces", active.ID, "use", l.name)
		}
	}

	if keys, err = k.list(ctx, l); err != nil {
		return err
	}
	if err := k.retireExtraActive(ctx, res, keys, now); err != nil {
		return err
	}
	if !slices.ContainsFunc(keys, func(r directory.SigningKey) bool { return r.State == directory.KeyNext }) {
		nk, err := k.insertNext(ctx, l, now)
		if err != nil {
			return err
		}
		res.Created = append(res.Created, nk.ID)
	}
	return nil
}

func (r *Rotation) activated(l lane, kid string) {
	if l.id == laneIDToken {
		r.IDTokenActivated = kid
	} else {
		r.Activated = kid
	}
}

// list returns the stored keys of lane l.
func (k *Keyring) list(ctx context.Context, l lane) ([]directory.SigningKey, error) {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("tokens: list signing keys: %w", err)
	}
	return k.cfg.inLane(keys, l.id), nil
}

// activateFirst activates a key when none is active. Racing replicas each
// insert a next key, then all try to activate the oldest next key they see;
// if they saw different sets and both succeed, retireExtraActive keeps one.
func (k *Keyring) activateFirst(ctx context.Context, res *Rotation, l lane, keys []directory.SigningKey, now time.Time) error {
	if !slices.ContainsFunc(keys, func(r directory.SigningKey) bool { return r.State == directory.KeyNext }) {
		nk, err := k.insertNext(ctx, l, now)
		if err != nil {
			return err
		}
		res.Created = append(res.Created, nk.ID)
		if keys, err = k.list(ctx, l); err != nil {
			return err
		}
	}
	next := oldestNext(keys)
	if next == nil {
		return errors.New("tokens: no next key to activate (deleted concurrently?); will retry")
	}
	moved, err := k.store.TransitionSigningKey(ctx, next.ID, directory.KeyNext, directory.KeyActive, now, nil)
	if err != nil {
		return fmt.Errorf("tokens: activate key %s: %w", next.ID, err)
	}
	if moved {
		res.activated(l, next.ID)
		// With no active key there is nothing to keep verifiers in step
		// with; they refetch the key set on an unknown kid.
		k.cfg.Log.Warn("no signing key was active; activated one without publication lead", "kid", next.ID, "use", l.name)
	}
	return nil
}

// dueNext returns the next key to activate now, or nil.
func (k *Keyring) dueNext(keys []directory.SigningKey, active *directory.SigningKey, now time.Time, force bool) *directory.SigningKey {
	if !force && now.Before(activatedAt(active).Add(k.cfg.RotateEvery)) {
		return nil
	}
	next := oldestNext(keys)
	if next == nil || now.Before(next.CreatedAt.Add(k.cfg.PublishLead)) {
		return nil
	}
	return next
}

func oldestNext(keys []directory.SigningKey) *directory.SigningKey {
	var best *directory.SigningKey
	for i := range keys {
		r := &keys[i]
		if r.State == directory.KeyNext && (best == nil || cmp.Or(r.CreatedAt.Compare(best.CreatedAt), cmp.Compare(r.ID, best.ID)) < 0) {
			best = r
		}
	}
	return best
}

// retireExtraActive retires every active key but the one replicas sign with.
func (k *Keyring) retireExtraActive(ctx context.Context, res *Rotation, keys []directory.SigningKey, now time.Time) error {
	keep := newestActive(keys)
	if keep == nil {
		return nil
	}
	until := now.Add(k.cfg.Retention()).UTC().Truncate(time.Microsecond)
	for _, r := range keys {
		if r.State != directory.KeyActive || r.ID == keep.ID {
			continue
		}
		moved, err := k.store.TransitionSigningKey(ctx, r.ID, directory.KeyActive, directory.KeyRetired, now, &until)
		if err != nil {
			return fmt.Errorf("tokens: retire key %s: %w", r.ID, err)
		}
		if moved {
			res.Retired = append(res.Retired, r.ID)
			res.RetiredUntil = until
			k.cfg.Log.Info("signing key retired", "kid", r.ID, "published_until", until)
		}
	}
	return nil
}

func (k *Keyring) insertNext(ctx context.Context, l lane, now time.Time) (directory.SigningKey, error) {
	nk, err := k.generateLaneKey(l, now)
	if err != nil {
		return nk, err
	}
	if err := k.store.InsertSigningKey(ctx, nk); err != nil {
		return nk, fmt.Errorf("tokens: store new key: %w", err)
	}
	k.cfg.Log.Info("signing key published", "kid", nk.ID, "alg", nk.Algorithm, "state", nk.State, "use", l.name)
	return nk, nil
}

func (k *Keyring) describe(res *Rotation, force bool) {
	ks := k.cur.Load()
	var activeAt time.Time
	for _, in := range ks.infos {
		if k.cfg.laneOf(string(in.Algorithm)) == laneIDToken {
			switch {
			case ks.idSigner != nil && in.ID == ks.idSigner.kid:
				res.IDTokenActive = in.ID
			case in.State == directory.KeyNext && res.IDTokenNext == "":
				res.IDTokenNext = in.ID
			}
			continue
		}
		switch {
		case ks.signer != nil && in.ID == ks.signer.kid:
			res.Active = in.ID
			if in.ActivatedAt != nil {
				activeAt = *in.ActivatedAt
			}
		case in.State == directory.KeyNext && res.Next == "":
			res.Next = in.ID
			res.NextActivation = in.CreatedAt.Add(k.cfg.PublishLead)
		}
	}
	if res.Next != "" && !activeAt.IsZero() && !force {
		res.NextActivation = latest(res.NextActivation, activeAt.Add(k.cfg.RotateEvery))
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

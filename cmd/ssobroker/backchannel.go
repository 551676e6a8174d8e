package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/ssobroker/ssobroker/directory"
)

// backchannelView is one undelivered back-channel logout as the operator
// sees it (docs/logout.md, "Back-channel logout"): never a token, which is
// minted at each attempt and not stored.
type backchannelView struct {
	ID             string    `json:"id"`
	ClientID       string    `json:"client_id"`
	Subject        string    `json:"sub"`
	SID            string    `json:"sid"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	LastStatusCode int       `json:"last_status_code,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	NextAttemptAt  time.Time `json:"next_attempt_at"`
}

// backchannelListCommand lists the back-channel logout deliveries not made
// yet: pending ones with their next attempt, and the failed ones the
// notifier gave up on, kept for the operator until pruned.
func backchannelListCommand(fs *flag.FlagSet) func(context.Context, *env) error {
	limit := fs.Int("limit", 100, "at most this many, oldest first (1 to 10000)")
	return func(ctx context.Context, e *env) error {
		if *limit < 1 || *limit > 10000 {
			return usageError{fmt.Sprintf("--limit %d: give 1 to 10000", *limit)}
		}
		return e.withStore(ctx, func(s *directory.SQLStore) error {
			ds, err := s.BackchannelDeliveries(ctx, *limit)
			if err != nil {
				return err
			}
			views := make([]backchannelView, 0, len(ds))
			rows := [][]string{{"ID", "CLIENT", "SUB", "STATUS", "ATTEMPTS", "LAST", "CREATED", "NEXT ATTEMPT"}}
			for _, d := range ds {
				v := backchannelView{ID: d.ID, ClientID: d.ClientID, Subject: d.UserID, SID: d.SID, Status: string(d.Status),
					Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: d.CreatedAt, NextAttemptAt: d.NextAttemptAt}
				views = append(views, v)
				last := v.LastError
				if v.LastStatusCode != 0 {
					last = strconv.Itoa(v.LastStatusCode) + " " + last
				}
				next := v.NextAttemptAt.Format(time.RFC3339)
				if d.Status == directory.DeliveryFailed {
					next = "given up"
				}
				rows = append(rows, []string{v.ID, v.ClientID, v.Subject, v.Status, strconv.Itoa(v.Attempts), last,
					v.CreatedAt.Format(time.RFC3339), next})
			}
			human := table(rows)
			if len(ds) == 0 {
				human = "no back-channel logout is waiting or failed\n"
			}
			return e.print(views, human)
		})
	}
}

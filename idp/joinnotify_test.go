package idp_test

import (
	"context"
	"sync"

	"github.com/ssobroker/ssobroker/directory"
)

// joinNotices records what the sign-in told its JoinRequestNotifier.
type joinNotices struct {
	mu  sync.Mutex
	got []joinNotice
}

type joinNotice struct {
	org  directory.Organization
	user directory.User
	req  directory.JoinRequest
}

func (n *joinNotices) NotifyJoinRequest(_ context.Context, org directory.Organization, user directory.User, req directory.JoinRequest) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, joinNotice{org, user, req})
}

// about returns the notices of one join request.
func (n *joinNotices) about(reqID string) []joinNotice {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []joinNotice
	for _, x := range n.got {
		if x.req.ID == reqID {
			out = append(out, x)
		}
	}
	return out
}

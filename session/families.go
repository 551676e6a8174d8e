package session

import (
	"fmt"
	"strings"
)

// scopeOfflineAccess is the OpenID Connect scope value of a grant meant to
// outlive the browser session (OIDC Core §11).
const scopeOfflineAccess = "offline_access"

// checkSessionFamilies validates RevokeSessionFamilies' arguments: an empty
// handle would match every family granted without a session.
func checkSessionFamilies(userID, sessionHandle string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if sessionHandle == "" || len(sessionHandle) > maxKeyLen {
		return fmt.Errorf("%w: session handle must be 1-%d bytes", ErrInvalid, maxKeyLen)
	}
	return nil
}

// sessionFamily reports whether a family with sessionID and scope is one
// RevokeSessionFamilies(…, handle, keepOffline) ends.
func sessionFamily(sessionID, scope, handle string, keepOffline bool) bool {
	if sessionID != handle {
		return false
	}
	if keepOffline {
		for s := range strings.SplitSeq(scope, " ") {
			if s == scopeOfflineAccess {
				return false
			}
		}
	}
	return true
}

package sessiontest

import (
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

// testTaggedSessions: sessions filed under a tag (an upstream session) are
// found by it until their entry expires, and one of them can be ended by
// its handle without touching the user's others.
func testTaggedSessions(t *testing.T, open Opener) {
	s := open(t, session.Options{})
	c := ctx(t)
	tag := "saml conn_1 nameid " + time.Now().String()
	a, err := s.CreateSession(c, newSession("usr_tag_a"))
	must(t, "create a", err)
	a2, err := s.CreateSession(c, newSession("usr_tag_a"))
	must(t, "create a2", err)
	b, err := s.CreateSession(c, newSession("usr_tag_b"))
	must(t, "create b", err)
	until := time.Now().Add(time.Hour)
	must(t, "tag a", s.TagSession(c, tag, a.UserID, a.Handle, until))
	must(t, "tag a again", s.TagSession(c, tag, a.UserID, a.Handle, until))
	must(t, "tag b elsewhere", s.TagSession(c, tag+" other", b.UserID, b.Handle, until))
	got, err := s.SessionsTagged(c, tag)
	must(t, "tagged", err)
	if len(got) != 1 || got[0] != (session.TaggedSession{UserID: a.UserID, Handle: a.Handle}) {
		t.Fatalf("tagged %v, want only a's session", got)
	}
	// Another user's handle deletes nothing.
	ok, err := s.DeleteSessionByHandle(c, b.UserID, a.Handle)
	must(t, "delete as another user", err)
	if ok {
		t.Fatalf("a session was deleted under another user's name")
	}
	ok, err = s.DeleteSessionByHandle(c, a.UserID, a.Handle)
	must(t, "delete by handle", err)
	if !ok {
		t.Fatalf("delete by handle found no live session")
	}
	_, err = s.GetSession(c, a.ID)
	wantErr(t, "get after delete by handle", err, session.ErrNotFound)
	if _, err := s.GetSession(c, a2.ID); err != nil {
		t.Fatalf("the user's other session ended too: %v", err)
	}
	list, err := s.ListUserSessions(c, a.UserID)
	must(t, "list", err)
	if len(list) != 1 || list[0].Handle != a2.Handle {
		t.Fatalf("user index after delete by handle: %v", list)
	}
	ok, err = s.DeleteSessionByHandle(c, a.UserID, a.Handle)
	must(t, "delete again", err)
	if ok {
		t.Fatalf("deleted twice")
	}
	ok, err = s.DeleteSessionByHandle(c, a.UserID, "not a handle")
	if err != nil || ok {
		t.Fatalf("garbage handle: %v %v", ok, err)
	}
	// An entry expires.
	short := "short " + tag
	must(t, "tag short", s.TagSession(c, short, a2.UserID, a2.Handle, time.Now().Add(300*time.Millisecond)))
	time.Sleep(500 * time.Millisecond)
	if got, err := s.SessionsTagged(c, short); err != nil || len(got) != 0 {
		t.Fatalf("expired tag entry: %v %v", got, err)
	}
	wantErr(t, "empty tag", s.TagSession(c, "", a2.UserID, a2.Handle, until), session.ErrInvalid)
	wantErr(t, "past expiry", s.TagSession(c, tag, a2.UserID, a2.Handle, time.Now().Add(-time.Second)), session.ErrInvalid)
	wantErr(t, "bad handle", s.TagSession(c, tag, a2.UserID, "x", until), session.ErrInvalid)
}

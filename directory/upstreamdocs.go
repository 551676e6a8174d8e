package directory

import (
	"context"
	"fmt"
	"time"
)

// UpstreamDocument is the last good copy of a document a connection fetches
// from its IdP (today the SAML IdP metadata of a metadata URL): the URL it
// came from, the document as fetched, and when. The connector that fetched
// it decides what "good" means (it saves only a document that passed its
// validation, and validates a stored one again before using it); the
// directory only keeps it, one per connection, deleted with the connection.
type UpstreamDocument struct {
	ConnectionID string
	URL          string
	Document     []byte
	FetchedAt    time.Time
}

// maxUpstreamDocument bounds a stored document (the fetch limit of IdP
// metadata is 1 MiB).
const maxUpstreamDocument = 1 << 20

// SaveUpstreamDocument keeps d as its connection's last good document,
// replacing the one kept before. A connection that no longer exists keeps
// nothing (and that is no error: a refresh may race a deletion). Nothing is
// announced to other replicas and nothing is audited: the document is a
// cache of what the IdP publishes, not a change an admin made.
func (s *SQLStore) SaveUpstreamDocument(ctx context.Context, d UpstreamDocument) error {
	switch {
	case d.ConnectionID == "" || d.URL == "" || len(d.Document) == 0:
		return invalid("document", "an upstream document needs its connection, URL and content")
	case len(d.Document) > maxUpstreamDocument:
		return invalid("document", "an upstream document must be at most 1 MiB")
	case len(d.URL) > 2048:
		return invalid("url", "an upstream document's URL must be at most 2048 characters")
	}
	if d.FetchedAt.IsZero() {
		d.FetchedAt = time.Now()
	}
	// The WHERE keeps SQLite's parser from reading ON CONFLICT as a join.
	_, err := s.db.exec(ctx, `INSERT INTO connection_upstream_documents (connection_id, url, document, fetched_at)
		SELECT id, $2, $3, $4 FROM connections WHERE id = $1
		ON CONFLICT (connection_id) DO UPDATE SET url = excluded.url, document = excluded.document, fetched_at = excluded.fetched_at`,
		d.ConnectionID, d.URL, string(d.Document), ts(d.FetchedAt))
	if err != nil {
		return fmt.Errorf("save upstream document: %w", err)
	}
	return nil
}

// GetUpstreamDocument returns the last good document of connection
// connectionID fetched from url, or an error wrapping ErrNotFound when there
// is none (none kept, or the one kept came from another URL: a connection
// whose URL changed never falls back to the old URL's document).
func (s *SQLStore) GetUpstreamDocument(ctx context.Context, connectionID, url string) (UpstreamDocument, error) {
	d := UpstreamDocument{ConnectionID: connectionID}
	var doc string
	var fetched int64
	err := s.db.queryRow(ctx, `SELECT url, document, fetched_at FROM connection_upstream_documents
		WHERE connection_id = $1 AND url = $2`, connectionID, url).Scan(&d.URL, &doc, &fetched)
	if err == errNoRows {
		return UpstreamDocument{}, notFound("upstream document", connectionID)
	}
	if err != nil {
		return UpstreamDocument{}, fmt.Errorf("get upstream document: %w", err)
	}
	d.Document, d.FetchedAt = []byte(doc), fromTS(fetched)
	return d, nil
}

// Package directory is ssobroker's model and its storage: organizations,
// workspaces, users, org and workspace memberships, invitations, join
// requests, service accounts and their API keys, upstream connections, email
// domains, OAuth clients, signing keys, trusted JWT issuers and the audit log.
//
// One Store interface is implemented once in SQL by SQLStore and runs on two
// engines, PostgreSQL (OpenPostgres) and embedded SQLite (OpenSQLite); a thin
// adapter rewrites placeholders and maps each engine's errors, and one
// conformance suite runs against both. Migrations are embedded and applied
// when a store opens.
//
// Every invariant (an org keeps a human admin, nobody changes their own role
// or removes themselves, the only workspace stays, a non-admin grants only
// what they hold) is enforced here, inside the transaction that makes the
// change, and every change writes its audit entry in that transaction.
// Violations are *InvariantError values with a stable rule code; other
// failures are the sentinel and typed errors of errors.go, with
// ErrUnavailable when the database cannot be reached.
//
// Lookups on the request path (API keys, a principal's access, a browser
// session's standing, clients, connections) are cached in memory; every
// committed change drops the caches, in other processes through PostgreSQL
// LISTEN/NOTIFY or SQLite's polled change counter, and a cache whose
// notifications are down is bypassed rather than trusted.
//
// Its subpackages are access (roles and the permission function), secretbox
// (sealing secrets at rest), adminapi (the admin REST API) and directorytest
// (stores for tests); none of them imports a package of ours outside
// directory/ (docs/architecture.md, "Import rules"). Who may do what is
// docs/permissions.md.
package directory

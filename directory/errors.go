package directory

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error the Store returns wraps one of them.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvariant       = errors.New("invariant violated")
	ErrInvalid         = errors.New("invalid input")
	ErrVersionMismatch = errors.New("version mismatch")
	ErrUnavailable     = errors.New("directory unavailable")
)

// NotFoundError names the thing that was not found.
type NotFoundError struct {
	Kind string // "organization", "workspace", …
	Ref  string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Ref) }

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func notFound(kind, ref string) error { return &NotFoundError{Kind: kind, Ref: ref} }

// ConflictError says what already exists.
type ConflictError struct{ Message string }

func (e *ConflictError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

func conflict(format string, a ...any) error {
	return &ConflictError{Message: fmt.Sprintf(format, a...)}
}

// InvariantError is a refused change that would break a rule of the directory,
// with a message meant for a person.
type InvariantError struct {
	Rule    string // a stable code such as "last_admin"
	Message string
}

func (e *InvariantError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvariant) true.
func (e *InvariantError) Unwrap() error { return ErrInvariant }

// The invariant rules.
const (
	RuleLastAdmin         = "last_admin"
	RuleSelfRoleChange    = "self_role_change"
	RuleSelfRemoval       = "self_removal"
	RuleOnlyWorkspace     = "only_workspace"
	RuleDefaultWorkspace  = "default_workspace_needs_replacement"
	RuleNotOrgMember      = "not_org_member"
	RuleInvitationPending = "invitation_pending"
)

func invariant(rule, format string, a ...any) error {
	return &InvariantError{Rule: rule, Message: fmt.Sprintf(format, a...)}
}

// InvalidError names the field that failed validation.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, a...)}
}

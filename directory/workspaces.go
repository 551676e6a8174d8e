package directory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory/access"
)

const wsCols = `w.id, w.org_id, w.name, w.created_at, (o.default_workspace_id = w.id)`
const wsFrom = ` FROM workspaces w JOIN orgs o ON o.id = w.org_id`

func scanWorkspace(r row) (Workspace, error) {
	var w Workspace
	var created int64
	err := r.Scan(&w.ID, &w.OrgID, &w.Name, &created, &w.Default)
	w.CreatedAt = fromTS(created)
	return w, err
}

func getWorkspace(ctx context.Context, q querier, orgID, ref string) (Workspace, error) {
	col := "w.name"
	if strings.HasPrefix(ref, "ws_") {
		col = "w.id"
	}
	w, err := scanWorkspace(q.queryRow(ctx, `SELECT `+wsCols+wsFrom+` WHERE w.org_id = $1 AND `+col+` = $2`, orgID, ref))
	if err == errNoRows {
		return w, notFound("workspace", ref)
	}
	return w, err
}

// CreateWorkspace creates a workspace, with owner as its owner when given.
func (s *SQLStore) CreateWorkspace(ctx context.Context, actor, orgID, name, owner string) (Workspace, error) {
	if err := ValidateWorkspaceName(name); err != nil {
		return Workspace{}, err
	}
	w := Workspace{ID: newID("ws"), OrgID: orgID, Name: name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err := s.mutate(ctx, func(q querier) error {
		if _, err := lockOrg(ctx, q, orgID); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO workspaces (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)`, w.ID, orgID, name, ts(w.CreatedAt))
		if isUnique(err) {
			// Names are unique across the deployment; do not say which org holds it.
			return conflict("workspace name %q is taken", name)
		}
		if err != nil {
			return err
		}
		if owner != "" {
			if _, err := getMember(ctx, q, orgID, owner); err != nil {
				return err
			}
			if err := putWorkspaceMember(ctx, q, w, owner, access.Membership{Role: access.WorkspaceOwner}); err != nil {
				return err
			}
		}
		return audit(ctx, q, orgID, actor, "workspace.create", w.ID, nil, w)
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("create workspace: %w", err)
	}
	return w, nil
}

// GetWorkspace finds a workspace of the org by id or name.
func (s *SQLStore) GetWorkspace(ctx context.Context, orgID, ref string) (Workspace, error) {
	return getWorkspace(ctx, s.db, orgID, ref)
}

// FindWorkspace finds a workspace by its deployment-wide unique name.
func (s *SQLStore) FindWorkspace(ctx context.Context, name string) (Workspace, error) {
	w, err := scanWorkspace(s.db.queryRow(ctx, `SELECT `+wsCols+wsFrom+` WHERE w.name = $1`, name))
	if err == errNoRows {
		return w, notFound("workspace", name)
	}
	return w, err
}

// ListWorkspaces lists the org's workspaces by name.
func (s *SQLStore) ListWorkspaces(ctx context.Context, orgID string, f WorkspaceFilter) ([]Workspace, string, error) {
	limit := limitOf(f.Page)
	qs := `SELECT ` + wsCols + wsFrom + ` WHERE w.org_id = $1 AND w.name > $2`
	args := []any{orgID, f.After}
	if f.Q != "" {
		args = append(args, likePattern(f.Q))
		qs += fmt.Sprintf(` AND w.name LIKE $%d ESCAPE '\'`, len(args))
	}
	if f.MemberOf != "" {
		args = append(args, f.MemberOf)
		qs += fmt.Sprintf(` AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = w.id AND m.principal_id = $%d)`, len(args))
	}
	args = append(args, limit)
	qs += fmt.Sprintf(` ORDER BY w.name LIMIT $%d`, len(args))
	r, err := s.db.query(ctx, qs, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(r, scanWorkspace)
	if err != nil || len(out) == 0 {
		return out, "", err
	}
	return out, nextCursor(len(out), limit, out[len(out)-1].Name), nil
}

// RenameWorkspace gives a workspace a new name.
func (s *SQLStore) RenameWorkspace(ctx context.Context, actor, orgID, wsID, name string) (Workspace, error) {
	if err := ValidateWorkspaceName(name); err != nil {
		return Workspace{}, err
	}
	var w Workspace
	err := s.mutate(ctx, func(q querier) error {
		before, err := getWorkspace(ctx, q, orgID, wsID)
		if err != nil {
			return err
		}
		w = before
		if before.Name == name {
			return nil
		}
		w.Name = name
		_, err = q.exec(ctx, `UPDATE workspaces SET name = $1 WHERE id = $2`, name, before.ID)
		if isUnique(err) {
			return conflict("workspace name %q is taken", name)
		}
		if err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "workspace.rename", w.ID, before, w)
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("rename workspace: %w", err)
	}
	return w, nil
}

// SetDefaultWorkspace makes a workspace the org's default.
func (s *SQLStore) SetDefaultWorkspace(ctx context.Context, actor, orgID, wsID string) error {
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		w, err := getWorkspace(ctx, q, orgID, wsID)
		if err != nil {
			return err
		}
		if o.Settings.DefaultWorkspace == w.ID {
			return nil
		}
		if _, err := q.exec(ctx, `UPDATE orgs SET default_workspace_id = $1, version = version + 1 WHERE id = $2`, w.ID, orgID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "workspace.set_default", w.ID,
			map[string]string{"default_workspace": o.Settings.DefaultWorkspace}, map[string]string{"default_workspace": w.ID})
	})
	if err != nil {
		return fmt.Errorf("set default workspace: %w", err)
	}
	return nil
}

// DeleteWorkspace deletes a workspace and its memberships.
func (s *SQLStore) DeleteWorkspace(ctx context.Context, actor, orgID, wsID, newDefault string) error {
	err := s.mutate(ctx, func(q querier) error {
		o, err := lockOrg(ctx, q, orgID)
		if err != nil {
			return err
		}
		w, err := getWorkspace(ctx, q, orgID, wsID)
		if err != nil {
			return err
		}
		var n int
		if err := q.queryRow(ctx, `SELECT count(*) FROM workspaces WHERE org_id = $1`, orgID).Scan(&n); err != nil {
			return err
		}
		if n <= 1 {
			return invariant(RuleOnlyWorkspace, "workspace %q is the organization's only workspace and cannot be deleted", w.Name)
		}
		if o.Settings.DefaultWorkspace == w.ID {
			if newDefault == "" {
				return invariant(RuleDefaultWorkspace, "workspace %q is the default workspace: name a new default workspace to delete it", w.Name)
			}
			nd, err := getWorkspace(ctx, q, orgID, newDefault)
			if err != nil {
				return err
			}
			if nd.ID == w.ID {
				return invariant(RuleDefaultWorkspace, "the new default workspace must be another workspace than %q", w.Name)
			}
			if _, err := q.exec(ctx, `UPDATE orgs SET default_workspace_id = $1, version = version + 1 WHERE id = $2`, nd.ID, orgID); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1`, w.ID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM workspaces WHERE id = $1`, w.ID); err != nil {
			return err
		}
		return audit(ctx, q, orgID, actor, "workspace.delete", w.ID, w, nil)
	})
	if err != nil {
		return fmt.Errorf("delete workspace: %w", err)
	}
	return nil
}

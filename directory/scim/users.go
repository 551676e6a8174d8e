package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/ssobroker/ssobroker/directory"
)

var userFilterAttrs = map[string]bool{"username": true, "externalid": true, "displayname": true}

func renderUser(c *caller, u directory.SCIMUser) map[string]any {
	m := map[string]any{
		"schemas":  []string{userSchema},
		"id":       u.ID,
		"userName": u.UserName,
		"active":   u.Active,
		"meta": map[string]any{"resourceType": "User", "created": timeString(u.CreatedAt), "lastModified": timeString(u.UpdatedAt),
			"location": c.base + "/Users/" + u.ID, "version": etag(u.Version)},
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	if u.DisplayName != "" {
		m["displayName"] = u.DisplayName
	}
	if u.GivenName != "" || u.FamilyName != "" {
		name := map[string]any{"formatted": strings.TrimSpace(u.GivenName + " " + u.FamilyName)}
		if u.GivenName != "" {
			name["givenName"] = u.GivenName
		}
		if u.FamilyName != "" {
			name["familyName"] = u.FamilyName
		}
		m["name"] = name
	}
	if u.Email != "" {
		m["emails"] = []map[string]any{{"value": u.Email, "type": "work", "primary": true}}
	}
	return m
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	lq, err := parseList(r, userFilterAttrs, userSchema)
	if err != nil {
		return err
	}
	f := directory.SCIMUserFilter{Offset: lq.startIndex - 1, Limit: lq.count}
	if _, bad := lq.eq["username\x00conflict"]; bad {
		return writeList(w, lq, 0, nil)
	}
	if _, bad := lq.eq["externalid\x00conflict"]; bad {
		return writeList(w, lq, 0, nil)
	}
	if _, bad := lq.eq["displayname\x00conflict"]; bad {
		return writeList(w, lq, 0, nil)
	}
	if v, ok := lq.eq["username"]; ok {
		f.UserName = &v
	}
	if v, ok := lq.eq["externalid"]; ok {
		f.ExternalID = &v
	}
	if v, ok := lq.eq["displayname"]; ok {
		f.DisplayName = &v
	}
	users, total, err := s.store.ListSCIMUsers(r.Context(), c.org.ID, f)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(users))
	for _, u := range users {
		items = append(items, lq.project(renderUser(c, u)))
	}
	return writeList(w, lq, total, items)
}

func writeList(w http.ResponseWriter, lq listQuery, total int, items []map[string]any) error {
	writeJSON(w, http.StatusOK, listResponse(total, lq.startIndex, items))
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := s.store.GetSCIMUser(r.Context(), c.org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if notModified(w, r, u.Version) {
		return nil
	}
	lq, err := parseList(r, nil, userSchema)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(u.Version))
	writeJSON(w, http.StatusOK, lq.project(renderUser(c, u)))
	return nil
}

// userFromBody reads a full User (POST, PUT). Attributes we do not keep
// (password, locale, roles, groups, extensions) are ignored, as RFC 7644
// §3.3 lets a service provider do; the password is never stored or logged.
func userFromBody(body map[string]any) (directory.SCIMUserInput, error) {
	in := directory.SCIMUserInput{Active: true}
	for k, v := range body {
		var err error
		switch strings.ToLower(k) {
		case "username":
			in.UserName, err = str("userName", v)
		case "externalid":
			in.ExternalID, err = str("externalId", v)
		case "displayname":
			in.DisplayName, err = str("displayName", v)
		case "active":
			in.Active, err = boolean("active", v)
		case "name":
			err = setName(&in, v, false)
		case "emails":
			in.Email, err = pickEmail(v)
		}
		if err != nil {
			return in, err
		}
	}
	if in.UserName == "" {
		return in, badRequest("invalidValue", "userName is required")
	}
	return in, nil
}

func str(field string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badRequest("invalidValue", "%s must be a string", field)
	}
	return s, nil
}

// boolean accepts true/false and, as Entra ID sends them, the strings
// "True"/"False" in any case.
func boolean(field string, v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, badRequest("invalidValue", "%s must be true or false", field)
}

// setName applies a "name" complex value; sub-attributes not given stay
// as they are when merge is set (PATCH), and are cleared otherwise (PUT).
func setName(in *directory.SCIMUserInput, v any, merge bool) error {
	if v == nil {
		in.GivenName, in.FamilyName = "", ""
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return badRequest("invalidValue", "name must be an object")
	}
	if !merge {
		in.GivenName, in.FamilyName = "", ""
	}
	for k, sv := range m {
		var err error
		switch strings.ToLower(k) {
		case "givenname":
			in.GivenName, err = str("name.givenName", sv)
		case "familyname":
			in.FamilyName, err = str("name.familyName", sv)
		case "formatted":
			_, err = str("name.formatted", sv) // derived from the parts when shown
		default:
			if merge {
				return badRequest("invalidPath", "name.%s is not an attribute of this server's User schema", k)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pickEmail chooses the primary email of a multi-valued "emails" value,
// else the work one, else the first.
func pickEmail(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	list, ok := v.([]any)
	if !ok {
		if m, isObj := v.(map[string]any); isObj {
			list = []any{m}
		} else {
			return "", badRequest("invalidValue", "emails must be an array of objects")
		}
	}
	best, bestRank := "", 0
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return "", badRequest("invalidValue", "emails must be an array of objects")
		}
		var value, typ string
		rank := 1
		for k, fv := range m {
			switch strings.ToLower(k) {
			case "value":
				s, err := str("emails.value", fv)
				if err != nil {
					return "", err
				}
				value = s
			case "type":
				typ, _ = fv.(string)
			case "primary":
				if p, err := boolean("emails.primary", fv); err == nil && p {
					rank = 3
				}
			}
		}
		if rank < 3 && strings.EqualFold(typ, "work") {
			rank = 2
		}
		if value != "" && rank > bestRank {
			best, bestRank = value, rank
		}
	}
	return best, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	in, err := userFromBody(body)
	if err != nil {
		return err
	}
	m, err := s.mapping(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	u, err := s.store.CreateSCIMUser(r.Context(), c.actor(), c.org.ID, in, m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", c.base+"/Users/"+u.ID)
	w.Header().Set("ETag", etag(u.Version))
	writeJSON(w, http.StatusCreated, renderUser(c, u))
	return nil
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	in, err := userFromBody(body)
	if err != nil {
		return err
	}
	return s.replaceUser(w, r, c, r.PathValue("id"), ver, func(directory.SCIMUser) (directory.SCIMUserInput, error) { return in, nil })
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(body)
	if err != nil {
		return err
	}
	return s.replaceUser(w, r, c, r.PathValue("id"), ver, func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
		in := directory.SCIMUserInput{UserName: cur.UserName, ExternalID: cur.ExternalID, Email: cur.Email,
			GivenName: cur.GivenName, FamilyName: cur.FamilyName, DisplayName: cur.DisplayName, Active: cur.Active}
		for _, op := range ops {
			if err := applyUserOp(&in, cur.ID, op); err != nil {
				return in, err
			}
		}
		return in, nil
	})
}

// replaceUser reads the user, builds its new state and writes it against
// the version read (If-Match's when given; a concurrent change without
// If-Match is retried). A user turned inactive has its sessions ended.
func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request, c *caller, id string, ifVersion int64,
	build func(directory.SCIMUser) (directory.SCIMUserInput, error)) error {
	ctx := r.Context()
	m, err := s.mapping(ctx, c.org.ID)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetSCIMUser(ctx, c.org.ID, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur.Version {
			return directory.ErrVersionMismatch
		}
		in, err := build(cur)
		if err != nil {
			return err
		}
		u, err := s.store.ReplaceSCIMUser(ctx, c.actor(), c.org.ID, id, in, cur.Version, m)
		if errors.Is(err, directory.ErrVersionMismatch) && ifVersion == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		if cur.Active && !u.Active {
			if err := s.endSessions(ctx, c, id); err != nil {
				return err
			}
		}
		w.Header().Set("ETag", etag(u.Version))
		writeJSON(w, http.StatusOK, renderUser(c, u))
		return nil
	}
}

// endSessions ends a deactivated user's sessions and refresh families. The
// membership is already gone, so every session check refuses the user even
// when this fails; the failure is still reported (503) and logged.
func (s *Server) endSessions(ctx context.Context, c *caller, userID string) error {
	if err := s.sessions.RevokeUser(ctx, c.org.ID, userID); err != nil {
		s.log.ErrorContext(ctx, "SCIM: ending a deactivated user's sessions failed", "org", c.org.ID, "user", userID, "err", err)
		return &scimError{status: http.StatusServiceUnavailable, detail: "the user was deactivated, but its sessions could not be ended yet; its sign-ins no longer grant access"}
	}
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	cur, err := s.store.GetSCIMUser(ctx, c.org.ID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSCIMUser(ctx, c.actor(), c.org.ID, id, ver); err != nil {
		return err
	}
	if cur.Active {
		if err := s.endSessions(ctx, c, id); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- PATCH (RFC 7644 §3.5.2) ---

// patchOp is one operation; path is nil when absent.
type patchOp struct {
	op    string // add, replace, remove
	path  *filter.Path
	raw   string
	value any
}

const maxPatchOps = 1000

func parsePatch(body map[string]any) ([]patchOp, error) {
	var rawOps any
	for k, v := range body {
		switch strings.ToLower(k) {
		case "operations":
			rawOps = v
		case "schemas", "id", "meta":
		}
	}
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, badRequest("invalidSyntax", "a PatchOp needs a non-empty Operations array")
	}
	if len(list) > maxPatchOps {
		return nil, badRequest("tooMany", "at most %d operations per request", maxPatchOps)
	}
	ops := make([]patchOp, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badRequest("invalidSyntax", "each operation must be an object")
		}
		var op patchOp
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.op = strings.ToLower(s)
			case "path":
				s, ok := v.(string)
				if !ok {
					return nil, badRequest("invalidPath", "path must be a string")
				}
				op.raw = s
			case "value":
				op.value = v
			}
		}
		switch op.op {
		case "add", "replace", "remove":
		default:
			return nil, badRequest("invalidSyntax", "op must be add, replace or remove")
		}
		if op.raw != "" {
			if len(op.raw) > maxFilterLen {
				return nil, badRequest("invalidPath", "path is too long")
			}
			p, err := filter.ParsePath([]byte(op.raw))
			if err != nil {
				return nil, badRequest("invalidPath", "path %q is not a valid SCIM path", op.raw)
			}
			op.path = &p
		} else if op.op == "remove" {
			return nil, badRequest("noTarget", "remove needs a path")
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// pathlessKeys turns an operation without path into one operation per key
// of its object value, each key read as a path ("name.givenName" included,
// as Entra ID sends it). id (when it names this resource), schemas and
// meta are skipped.
func pathlessKeys(op patchOp, selfID string) ([]patchOp, error) {
	m, ok := op.value.(map[string]any)
	if !ok {
		return nil, badRequest("invalidValue", "an operation without path needs an object value")
	}
	var out []patchOp
	for k, v := range m {
		switch strings.ToLower(k) {
		case "schemas", "meta":
			continue
		case "id":
			if s, _ := v.(string); s == selfID {
				continue
			}
			return nil, badRequest("mutability", "id cannot be changed")
		}
		p, err := filter.ParsePath([]byte(k))
		if err != nil {
			return nil, badRequest("invalidPath", "%q is not a valid attribute", k)
		}
		out = append(out, patchOp{op: op.op, path: &p, raw: k, value: v})
	}
	return out, nil
}

// checkCore refuses a path in another schema than the resource's core one.
func checkCore(p *filter.Path, schema, raw string) error {
	if p.AttributePath.URIPrefix != nil && !strings.EqualFold(p.AttributePath.URI(), schema) {
		return badRequest("invalidPath", "%q is not an attribute of this server's schemas", raw)
	}
	return nil
}

func applyUserOp(in *directory.SCIMUserInput, selfID string, op patchOp) error {
	if op.path == nil {
		subs, err := pathlessKeys(op, selfID)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if err := applyUserOp(in, selfID, sub); err != nil {
				return err
			}
		}
		return nil
	}
	p := op.path
	if err := checkCore(p, userSchema, op.raw); err != nil {
		return err
	}
	attr := strings.ToLower(p.AttributePath.AttributeName)
	sub := strings.ToLower(p.AttributePath.SubAttributeName())
	remove := op.op == "remove"
	simple := func() error {
		if p.ValueExpression != nil || sub != "" || p.SubAttribute != nil {
			return badRequest("invalidPath", "%q: %s has no sub-attributes", op.raw, p.AttributePath.AttributeName)
		}
		return nil
	}
	var err error
	switch attr {
	case "active":
		if err = simple(); err != nil {
			return err
		}
		if remove {
			return badRequest("mutability", "active cannot be removed; replace it with false")
		}
		in.Active, err = boolean("active", op.value)
	case "username":
		if err = simple(); err != nil {
			return err
		}
		if remove {
			return badRequest("mutability", "userName is required and cannot be removed")
		}
		in.UserName, err = str("userName", op.value)
	case "externalid":
		if err = simple(); err != nil {
			return err
		}
		in.ExternalID = ""
		if !remove {
			in.ExternalID, err = str("externalId", op.value)
		}
	case "displayname":
		if err = simple(); err != nil {
			return err
		}
		in.DisplayName = ""
		if !remove {
			in.DisplayName, err = str("displayName", op.value)
		}
	case "name":
		if p.ValueExpression != nil || p.SubAttribute != nil {
			return badRequest("invalidPath", "%q: name is not multi-valued", op.raw)
		}
		switch sub {
		case "":
			if remove {
				return setName(in, nil, true)
			}
			return setName(in, op.value, true)
		case "givenname":
			in.GivenName = ""
			if !remove {
				in.GivenName, err = str("name.givenName", op.value)
			}
		case "familyname":
			in.FamilyName = ""
			if !remove {
				in.FamilyName, err = str("name.familyName", op.value)
			}
		case "formatted":
			if !remove {
				_, err = str("name.formatted", op.value) // derived from the parts
			}
		default:
			return badRequest("invalidPath", "%q is not an attribute of this server's User schema", op.raw)
		}
	case "emails":
		err = applyEmailOp(in, op)
	case "groups":
		return badRequest("mutability", "groups is read-only: change memberships through /Groups")
	default:
		return badRequest("invalidPath", "%q is not an attribute of this server's User schema", op.raw)
	}
	return err
}

// applyEmailOp handles "emails", `emails[type eq "work"]` and
// `emails[type eq "work"].value` (Entra ID), keeping one email.
func applyEmailOp(in *directory.SCIMUserInput, op patchOp) error {
	p := op.path
	if p.AttributePath.SubAttribute != nil {
		if strings.EqualFold(p.AttributePath.SubAttributeName(), "value") && p.ValueExpression == nil {
			if op.op == "remove" {
				in.Email = ""
				return nil
			}
			s, err := str("emails.value", op.value)
			in.Email = s
			return err
		}
		return badRequest("invalidPath", "%q is not an attribute of this server's User schema", op.raw)
	}
	if p.ValueExpression != nil {
		ae, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || ae.Operator != filter.EQ || ae.AttributePath.SubAttribute != nil {
			return badRequest("invalidFilter", "%q: only emails[type eq \"…\"] or emails[primary eq true] is supported", op.raw)
		}
		switch strings.ToLower(ae.AttributePath.AttributeName) {
		case "type", "primary", "value":
		default:
			return badRequest("invalidFilter", "%q: only emails[type eq \"…\"] or emails[primary eq true] is supported", op.raw)
		}
		sub := strings.ToLower(p.SubAttributeName())
		switch {
		case op.op == "remove":
			in.Email = ""
			return nil
		case sub == "value":
			s, err := str("emails.value", op.value)
			in.Email = s
			return err
		case sub == "":
			e, err := pickEmail(op.value)
			if err != nil {
				return err
			}
			in.Email = e
			return nil
		}
		return badRequest("invalidPath", "%q is not an attribute of this server's User schema", op.raw)
	}
	if op.op == "remove" {
		in.Email = ""
		return nil
	}
	e, err := pickEmail(op.value)
	if err != nil {
		return err
	}
	if e != "" || op.op == "replace" {
		in.Email = e
	}
	return nil
}

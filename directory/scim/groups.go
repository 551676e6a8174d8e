package scim

import (
	"net/http"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/ssobroker/ssobroker/directory"
)

var groupFilterAttrs = map[string]bool{"displayname": true, "externalid": true}

func renderGroup(c *caller, g directory.SCIMGroup, withMembers bool) map[string]any {
	m := map[string]any{
		"schemas":     []string{groupSchema},
		"id":          g.ID,
		"displayName": g.DisplayName,
		"meta": map[string]any{"resourceType": "Group", "created": timeString(g.CreatedAt), "lastModified": timeString(g.UpdatedAt),
			"location": c.base + "/Groups/" + g.ID, "version": etag(g.Version)},
	}
	if g.ExternalID != "" {
		m["externalId"] = g.ExternalID
	}
	if withMembers {
		members := make([]map[string]any, 0, len(g.Members))
		for _, u := range g.Members {
			members = append(members, map[string]any{"value": u.UserID, "display": u.UserName, "type": "User", "$ref": c.base + "/Users/" + u.UserID})
		}
		m["members"] = members
	}
	return m
}

// wantsMembers reports whether a read must load members (Entra ID asks
// with excludedAttributes=members to spare large groups).
func (lq listQuery) wantsMembers() bool {
	if lq.excluded["members"] {
		return false
	}
	return lq.attributes == nil || lq.attributes["members"]
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	lq, err := parseList(r, groupFilterAttrs, groupSchema)
	if err != nil {
		return err
	}
	if _, bad := lq.eq["displayname\x00conflict"]; bad {
		return writeList(w, lq, 0, nil)
	}
	if _, bad := lq.eq["externalid\x00conflict"]; bad {
		return writeList(w, lq, 0, nil)
	}
	f := directory.SCIMGroupFilter{Offset: lq.startIndex - 1, Limit: lq.count, WithMembers: lq.wantsMembers()}
	if v, ok := lq.eq["displayname"]; ok {
		f.DisplayName = &v
	}
	if v, ok := lq.eq["externalid"]; ok {
		f.ExternalID = &v
	}
	groups, total, err := s.store.ListSCIMGroups(r.Context(), c.org.ID, f)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		items = append(items, lq.project(renderGroup(c, g, f.WithMembers)))
	}
	return writeList(w, lq, total, items)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	lq, err := parseList(r, nil, groupSchema)
	if err != nil {
		return err
	}
	g, err := s.store.GetSCIMGroup(r.Context(), c.org.ID, r.PathValue("id"), lq.wantsMembers())
	if err != nil {
		return err
	}
	if notModified(w, r, g.Version) {
		return nil
	}
	w.Header().Set("ETag", etag(g.Version))
	writeJSON(w, http.StatusOK, lq.project(renderGroup(c, g, lq.wantsMembers())))
	return nil
}

// groupBody is a full Group (POST, PUT); members may come with it (Okta
// sends them in PUT, ory/polis#3136).
type groupBody struct {
	displayName string
	externalID  string
	members     []string
}

func groupFromBody(body map[string]any, selfID string) (groupBody, error) {
	var g groupBody
	for k, v := range body {
		var err error
		switch strings.ToLower(k) {
		case "displayname":
			g.displayName, err = str("displayName", v)
		case "externalid":
			g.externalID, err = str("externalId", v)
		case "members":
			g.members, err = memberIDs(v)
		case "id":
			if s, _ := v.(string); selfID != "" && s != "" && s != selfID {
				err = badRequest("mutability", "id cannot be changed")
			}
		}
		if err != nil {
			return g, err
		}
	}
	if strings.TrimSpace(g.displayName) == "" {
		return g, badRequest("invalidValue", "displayName is required")
	}
	return g, nil
}

// memberIDs reads a members value: [{"value": "usr_…", …}, …].
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return []string{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		if m, isObj := v.(map[string]any); isObj {
			list = []any{m}
		} else {
			return nil, badRequest("invalidValue", "members must be an array of objects with a value")
		}
	}
	if len(list) > directory.MaxSCIMGroupMembers {
		return nil, badRequest("tooMany", "at most %d members per request", directory.MaxSCIMGroupMembers)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badRequest("invalidValue", "members must be an array of objects with a value")
		}
		var id string
		for k, fv := range m {
			if strings.EqualFold(k, "value") {
				id, _ = fv.(string)
			}
		}
		if id == "" || len(id) > 64 {
			return nil, badRequest("invalidValue", "each member needs a value: the user's id")
		}
		out = append(out, id)
	}
	return out, nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	g, err := groupFromBody(body, "")
	if err != nil {
		return err
	}
	m, err := s.mapping(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	out, err := s.store.CreateSCIMGroup(r.Context(), c.actor(), c.org.ID, g.displayName, g.externalID, g.members, m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", c.base+"/Groups/"+out.ID)
	w.Header().Set("ETag", etag(out.Version))
	writeJSON(w, http.StatusCreated, renderGroup(c, out, true))
	return nil
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	g, err := groupFromBody(body, id)
	if err != nil {
		return err
	}
	m, err := s.mapping(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateSCIMGroup(r.Context(), c.actor(), c.org.ID, id,
		directory.SCIMGroupChange{DisplayName: &g.displayName, ExternalID: &g.externalID, Members: &g.members}, ver, m); err != nil {
		return err
	}
	out, err := s.store.GetSCIMGroup(r.Context(), c.org.ID, id, true)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(out.Version))
	writeJSON(w, http.StatusOK, renderGroup(c, out, true))
	return nil
}

// patchGroup applies the operations and answers 204 (RFC 7644 §3.5.2: no
// body when none was asked for), sparing large groups their member list,
// as Entra ID's and Okta's examples expect.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
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
	id := r.PathValue("id")
	var ch directory.SCIMGroupChange
	for _, op := range ops {
		if err := applyGroupOp(&ch, id, op); err != nil {
			return err
		}
	}
	m, err := s.mapping(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	out, err := s.store.UpdateSCIMGroup(r.Context(), c.actor(), c.org.ID, id, ch, ver, m)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(out.Version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// memberSet keeps add and remove disjoint so they compose in order after
// an optional full replacement.
func addMembers(ch *directory.SCIMGroupChange, ids []string) {
	rm := map[string]bool{}
	for _, id := range ids {
		rm[id] = true
	}
	ch.Remove = without(ch.Remove, rm)
	ch.Add = append(ch.Add, ids...)
}

func removeMembers(ch *directory.SCIMGroupChange, ids []string) {
	rm := map[string]bool{}
	for _, id := range ids {
		rm[id] = true
	}
	ch.Add = without(ch.Add, rm)
	ch.Remove = append(ch.Remove, ids...)
}

func without(list []string, drop map[string]bool) []string {
	out := list[:0]
	for _, id := range list {
		if !drop[id] {
			out = append(out, id)
		}
	}
	return out
}

func replaceMembers(ch *directory.SCIMGroupChange, ids []string) {
	ch.Members, ch.Add, ch.Remove = &ids, nil, nil
}

func applyGroupOp(ch *directory.SCIMGroupChange, selfID string, op patchOp) error {
	if op.path == nil {
		subs, err := pathlessKeys(op, selfID)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if err := applyGroupOp(ch, selfID, sub); err != nil {
				return err
			}
		}
		return nil
	}
	p := op.path
	if err := checkCore(p, groupSchema, op.raw); err != nil {
		return err
	}
	attr := strings.ToLower(p.AttributePath.AttributeName)
	if attr != "members" && (p.ValueExpression != nil || p.AttributePath.SubAttribute != nil || p.SubAttribute != nil) {
		return badRequest("invalidPath", "%q: %s has no sub-attributes", op.raw, p.AttributePath.AttributeName)
	}
	switch attr {
	case "displayname":
		if op.op == "remove" {
			return badRequest("mutability", "displayName is required and cannot be removed")
		}
		name, err := str("displayName", op.value)
		if err != nil {
			return err
		}
		ch.DisplayName = &name
	case "externalid":
		ext := ""
		if op.op != "remove" {
			var err error
			if ext, err = str("externalId", op.value); err != nil {
				return err
			}
		}
		ch.ExternalID = &ext
	case "members":
		return applyMembersOp(ch, op)
	default:
		return badRequest("invalidPath", "%q is not an attribute of this server's Group schema", op.raw)
	}
	return nil
}

// applyMembersOp handles "members" (add, replace, remove with or without a
// value list) and `members[value eq "…"]` (remove).
func applyMembersOp(ch *directory.SCIMGroupChange, op patchOp) error {
	p := op.path
	if p.AttributePath.SubAttribute != nil || p.SubAttribute != nil {
		return badRequest("invalidPath", "%q: members' sub-attributes cannot be changed", op.raw)
	}
	if p.ValueExpression != nil {
		ids, err := memberFilterIDs(p.ValueExpression, op.raw)
		if err != nil {
			return err
		}
		if op.op != "remove" {
			return badRequest("invalidPath", "%q: a member filter can only be removed; add members with path \"members\"", op.raw)
		}
		removeMembers(ch, ids)
		return nil
	}
	switch op.op {
	case "remove":
		if op.value == nil {
			replaceMembers(ch, []string{})
			return nil
		}
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		removeMembers(ch, ids)
	case "add":
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		addMembers(ch, ids)
	case "replace":
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		replaceMembers(ch, ids)
	}
	return nil
}

// memberFilterIDs reads `value eq "…"` terms, possibly joined by or.
func memberFilterIDs(e filter.Expression, raw string) ([]string, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		v, ok := e.CompareValue.(string)
		if e.Operator != filter.EQ || !strings.EqualFold(e.AttributePath.AttributeName, "value") || e.AttributePath.SubAttribute != nil || !ok {
			return nil, badRequest("invalidFilter", "%q: only members[value eq \"…\"] is supported", raw)
		}
		return []string{unescape(v)}, nil
	case *filter.LogicalExpression:
		if e.Operator != filter.OR {
			return nil, badRequest("invalidFilter", "%q: only members[value eq \"…\"] is supported", raw)
		}
		l, err := memberFilterIDs(e.Left, raw)
		if err != nil {
			return nil, err
		}
		r, err := memberFilterIDs(e.Right, raw)
		return append(l, r...), err
	}
	return nil, badRequest("invalidFilter", "%q: only members[value eq \"…\"] is supported", raw)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, err := s.mapping(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSCIMGroup(r.Context(), c.actor(), c.org.ID, r.PathValue("id"), ver, m); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package scim

import (
	"net/http"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Schema URNs (RFC 7643 §8.7).
const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	listSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// Bounds of a list request (docs/scim.md).
const (
	defaultCount = 100
	maxCount     = 500
	maxFilterLen = 1024
)

// listQuery is a list request's parameters.
type listQuery struct {
	// eq holds the filter's "attr eq value" terms, ANDed, by lowercased
	// attribute name.
	eq         map[string]string
	startIndex int // 1-based
	count      int
	attributes map[string]bool
	excluded   map[string]bool
}

// parseList reads filter, startIndex, count, attributes and
// excludedAttributes. allowed lists the attributes a filter may name
// (lowercased); schema is the resource's core schema URN, accepted as a
// prefix.
func parseList(r *http.Request, allowed map[string]bool, schema string) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{startIndex: 1, count: defaultCount}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, badRequest("invalidValue", "startIndex must be an integer")
		}
		lq.startIndex = max(n, 1) // RFC 7644 §3.4.2.4: less than 1 is 1
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, badRequest("invalidValue", "count must be an integer")
		}
		lq.count = min(max(n, 0), maxCount) // negative is 0
	}
	if f := q.Get("filter"); f != "" {
		eq, err := parseFilter(f, allowed, schema)
		if err != nil {
			return lq, err
		}
		lq.eq = eq
	}
	lq.attributes = attrSet(q.Get("attributes"))
	lq.excluded = attrSet(q.Get("excludedAttributes"))
	return lq, nil
}

func attrSet(v string) map[string]bool {
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, a := range strings.Split(v, ",") {
		a = strings.ToLower(strings.TrimSpace(a))
		if i := strings.LastIndex(a, ":"); i >= 0 {
			a = a[i+1:]
		}
		if i := strings.Index(a, "."); i >= 0 {
			a = a[:i]
		}
		if a != "" {
			out[a] = true
		}
	}
	return out
}

// parseFilter accepts what provisioning clients send: "attr eq value"
// terms joined by "and", on the attributes allowed. Anything else the
// grammar allows (or, not, other operators, value paths) is invalidFilter.
func parseFilter(raw string, allowed map[string]bool, schema string) (map[string]string, error) {
	if len(raw) > maxFilterLen {
		return nil, badRequest("invalidFilter", "the filter is longer than %d bytes", maxFilterLen)
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return nil, badRequest("invalidFilter", "the filter is not valid SCIM filter syntax")
	}
	eq := map[string]string{}
	var walk func(e filter.Expression) error
	walk = func(e filter.Expression) error {
		switch e := e.(type) {
		case *filter.LogicalExpression:
			if e.Operator != filter.AND {
				return badRequest("invalidFilter", "only eq terms joined by and are supported")
			}
			if err := walk(e.Left); err != nil {
				return err
			}
			return walk(e.Right)
		case *filter.AttributeExpression:
			p := e.AttributePath
			if p.URIPrefix != nil && !strings.EqualFold(p.URI(), schema) || p.SubAttribute != nil {
				return badRequest("invalidFilter", "attribute %s cannot be filtered on", p.String())
			}
			name := strings.ToLower(p.AttributeName)
			if !allowed[name] || e.Operator != filter.EQ {
				return badRequest("invalidFilter", "only eq on %s is supported", allowedList(allowed))
			}
			v, ok := e.CompareValue.(string)
			if !ok {
				return badRequest("invalidFilter", "%s must be compared with a string", p.AttributeName)
			}
			v = unescape(v)
			if prev, seen := eq[name]; seen && prev != v && !(name == "username" && strings.EqualFold(prev, v)) {
				eq[name+"\x00conflict"] = v // matches nothing
			}
			eq[name] = v
			return nil
		}
		return badRequest("invalidFilter", "only eq terms joined by and are supported")
	}
	if err := walk(expr); err != nil {
		return nil, err
	}
	return eq, nil
}

func allowedList(allowed map[string]bool) string {
	var names []string
	for _, n := range []string{"userName", "externalId", "displayName"} {
		if allowed[strings.ToLower(n)] {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// unescape undoes the JSON string escapes the filter parser leaves in a
// compared value (`\"`, `\\`, `\u…`).
func unescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	if u, err := strconv.Unquote(`"` + v + `"`); err == nil {
		return u
	}
	return v
}

// project applies attributes / excludedAttributes to a resource rendered as
// a map; id, schemas and meta are always returned (RFC 7643 §7 "always").
func (lq listQuery) project(m map[string]any) map[string]any {
	if lq.attributes == nil && lq.excluded == nil {
		return m
	}
	for k := range m {
		lk := strings.ToLower(k)
		if lk == "id" || lk == "schemas" || lk == "meta" {
			continue
		}
		if lq.attributes != nil && !lq.attributes[lk] || lq.excluded[lk] {
			delete(m, k)
		}
	}
	return m
}

func listResponse(total, start int, items []map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"schemas": []string{listSchema}, "totalResults": total, "startIndex": start,
		"itemsPerPage": len(items), "Resources": items}
}

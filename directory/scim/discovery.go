package scim

import (
	"net/http"
	"strings"
)

// Discovery endpoints (RFC 7644 §4, RFC 7643 §5-7). They need a SCIM token
// like everything else under /scim/v2/{org}.

const (
	spConfigSchema     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{spConfigSchema},
		"documentationUri": s.issuer + "/docs/scim.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "SCIM token",
			"description": "A bearer token (scim_…) an org admin creates at /api/v1/orgs/{org}/scim-tokens", "primary": true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": c.base + "/ServiceProviderConfig"},
	})
	return nil
}

func resourceTypeList(c *caller) []map[string]any {
	rt := func(id, endpoint, schema, desc string) map[string]any {
		return map[string]any{"schemas": []string{resourceTypeSchema}, "id": id, "name": id, "endpoint": "/" + endpoint,
			"description": desc, "schema": schema,
			"meta": map[string]any{"resourceType": "ResourceType", "location": c.base + "/ResourceTypes/" + id}}
	}
	return []map[string]any{
		rt("User", "Users", userSchema, "A person of the organization; active is membership"),
		rt("Group", "Groups", groupSchema, "A group whose displayName the connections' group mapping reads"),
	}
}

func (s *Server) resourceTypes(w http.ResponseWriter, _ *http.Request, c *caller) error {
	list := resourceTypeList(c)
	writeJSON(w, http.StatusOK, listResponse(len(list), 1, list))
	return nil
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request, c *caller) error {
	for _, rt := range resourceTypeList(c) {
		if strings.EqualFold(rt["id"].(string), r.PathValue("id")) {
			writeJSON(w, http.StatusOK, rt)
			return nil
		}
	}
	return &scimError{status: http.StatusNotFound, detail: "resource type not found"}
}

// attr describes one attribute (RFC 7643 §7).
func attr(name, typ, desc string, opts ...func(map[string]any)) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": false, "description": desc, "required": false,
		"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
	if typ == "boolean" || typ == "complex" {
		delete(a, "caseExact")
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func required(a map[string]any)     { a["required"] = true }
func multi(a map[string]any)        { a["multiValued"] = true }
func readOnly(a map[string]any)     { a["mutability"] = "readOnly" }
func caseExact(a map[string]any)    { a["caseExact"] = true }
func uniqueServer(a map[string]any) { a["uniqueness"] = "server" }
func subs(s ...map[string]any) func(map[string]any) {
	return func(a map[string]any) { a["subAttributes"] = s }
}
func canonical(v ...string) func(map[string]any) {
	return func(a map[string]any) { a["canonicalValues"] = v }
}
func refTypes(v ...string) func(map[string]any) {
	return func(a map[string]any) { a["referenceTypes"] = v }
}

func schemaList(c *caller) []map[string]any {
	sc := func(id, name, desc string, attrs ...map[string]any) map[string]any {
		return map[string]any{"schemas": []string{schemaSchema}, "id": id, "name": name, "description": desc, "attributes": attrs,
			"meta": map[string]any{"resourceType": "Schema", "location": c.base + "/Schemas/" + id}}
	}
	return []map[string]any{
		sc(userSchema, "User", "User Account",
			attr("userName", "string", "The user's sign-in name: an email address (or the email below is)", required, uniqueServer),
			attr("externalId", "string", "The provisioning client's id for the user", caseExact),
			attr("name", "complex", "The user's name", subs(
				attr("formatted", "string", "The full name, from the parts", readOnly),
				attr("familyName", "string", "Family name"),
				attr("givenName", "string", "Given name"),
			)),
			attr("displayName", "string", "Name shown for the user"),
			attr("active", "boolean", "Whether the user is a member of the organization; false removes it and ends its sessions"),
			attr("emails", "complex", "The user's email; one is kept", multi, subs(
				attr("value", "string", "Email address"),
				attr("type", "string", "Label", canonical("work", "home", "other")),
				attr("primary", "boolean", "The primary email"),
			)),
		),
		sc(groupSchema, "Group", "Group",
			attr("displayName", "string", "The group's name; the connections' group_roles and group_workspaces map it", required, uniqueServer),
			attr("externalId", "string", "The provisioning client's id for the group", caseExact),
			attr("members", "complex", "Users in the group", multi, subs(
				attr("value", "string", "A user's id", func(a map[string]any) { a["mutability"] = "immutable" }),
				attr("$ref", "reference", "The user's URI", refTypes("User"), func(a map[string]any) { a["mutability"] = "immutable" }),
				attr("display", "string", "The user's userName", readOnly),
				attr("type", "string", "Always User", canonical("User"), func(a map[string]any) { a["mutability"] = "immutable" }),
			)),
		),
	}
}

func (s *Server) schemas(w http.ResponseWriter, _ *http.Request, c *caller) error {
	list := schemaList(c)
	writeJSON(w, http.StatusOK, listResponse(len(list), 1, list))
	return nil
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request, c *caller) error {
	for _, sc := range schemaList(c) {
		if strings.EqualFold(sc["id"].(string), r.PathValue("id")) {
			writeJSON(w, http.StatusOK, sc)
			return nil
		}
	}
	return &scimError{status: http.StatusNotFound, detail: "schema not found"}
}

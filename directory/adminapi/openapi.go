package adminapi

import (
	"encoding/json"
	"github.com/ssobroker/ssobroker/directory/access"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The OpenAPI 3.1 document is written here by hand, apart from routeTable:
// a test compares the two both ways, and compares every schema's properties
// with the JSON fields of the Go type it describes, so neither can drift.

// op is one operation of the document.
type op struct {
	id, summary string
	// perm says who may call it, in docs/permissions.md's words (x-permission).
	perm string
	// query names parameters of queryParams.
	query []string
	// body is the request schema; optional bodies may be absent or {}.
	body         string
	optionalBody bool
	status       int
	// resp is the response schema ("" for none).
	resp string
	// etag: the answer carries ETag; If-Match (or If-None-Match for GET) is honoured.
	etag bool
	// public operations need no credentials.
	public bool
}

func openAPIPaths() map[string]map[string]op {
	const o = "/api/v1/orgs/{org}"
	const admin = "org.admin"
	const anyMember = "any member of the org"
	page := []string{"cursor", "limit"}
	return map[string]map[string]op{
		"/api/v1/openapi.json": {"get": {id: "getOpenAPI", summary: "This document", status: 200, resp: "", public: true}},
		"/api/v1/me":           {"get": {id: "getMe", summary: "The caller: principal, orgs with roles, workspaces and permissions", perm: "any authenticated caller", status: 200, resp: "Me"}},
		o: {
			"get":   {id: "getOrg", summary: "Organization, plan and settings", perm: anyMember, status: 200, resp: "Organization", etag: true},
			"patch": {id: "patchOrg", summary: "Rename the organization or change its settings (plan is read-only)", perm: admin, body: "OrgPatch", status: 200, resp: "Organization", etag: true},
		},
		o + "/billing": {"get": {id: "getBilling", summary: "Billing overview: plan, members, admins, pending join requests", perm: admin, status: 200, resp: "Billing"}},
		o + "/workspaces": {
			"get":  {id: "listWorkspaces", summary: "Workspaces: admins see all, others those they belong to", perm: anyMember, query: append([]string{"q"}, page...), status: 200, resp: "WorkspaceList"},
			"post": {id: "createWorkspace", summary: "Create a workspace; the creator becomes its owner", perm: "org.create_workspace", body: "WorkspaceCreate", status: 201, resp: "Workspace"},
		},
		o + "/workspaces/{ws}": {
			"get":    {id: "getWorkspace", summary: "A workspace (name, id, or default)", perm: "workspace.read", status: 200, resp: "Workspace"},
			"patch":  {id: "patchWorkspace", summary: "Rename a workspace", perm: "workspace.configure", body: "WorkspacePatch", status: 200, resp: "Workspace"},
			"delete": {id: "deleteWorkspace", summary: "Delete a workspace; the default one needs ?new_default=", perm: admin, query: []string{"new_default"}, status: 204},
		},
		o + "/workspaces/{ws}/default": {"put": {id: "putDefaultWorkspace", summary: "Make a workspace the org's default (idempotent)", perm: admin, body: "Empty", optionalBody: true, status: 200, resp: "Workspace"}},
		o + "/workspaces/{ws}/members": {"get": {id: "listWorkspaceMembers", summary: "Members of a workspace", perm: "workspace.read", query: page, status: 200, resp: "WorkspaceMemberList"}},
		o + "/workspaces/{ws}/members/{principal}": {
			"put": {id: "putWorkspaceMember", summary: "Add an org member to a workspace or change its role and flags (idempotent; 201 when added)",
				perm: "workspace.invite to add a plain member; workspace.configure (owners, admins) for owner, flags, or changing an owner or flagged member", body: "WorkspaceMemberPut", status: 200, resp: "WorkspaceMember"},
			"delete": {id: "deleteWorkspaceMember", summary: "Remove a principal from a workspace", perm: "workspace.configure (owners, admins)", status: 204},
		},
		o + "/members": {"get": {id: "listMembers", summary: "Members of the org (users and service accounts)", perm: anyMember, query: page, status: 200, resp: "MemberList"}},
		o + "/members/{user}": {
			"get":    {id: "getMember", summary: "One member, with its version as ETag", perm: anyMember, status: 200, resp: "Member", etag: true},
			"patch":  {id: "patchMember", summary: "Change a member's org role (If-Match honoured)", perm: admin, body: "MemberPatch", status: 200, resp: "Member", etag: true},
			"delete": {id: "deleteMember", summary: "Remove a user from the org, their workspace memberships and sessions", perm: admin, status: 204},
		},
		o + "/members/{user}/sessions": {"delete": {id: "deleteMemberSessions", summary: "End a member's sessions and refresh tokens", perm: admin, status: 204}},
		o + "/invitations": {
			"get":  {id: "listInvitations", summary: "Invitations: admins see all, others with org.invite their own", perm: "org.admin, or org.invite for one's own", query: page, status: 200, resp: "InvitationList"},
			"post": {id: "createInvitation", summary: "Invite an email with an org role and workspaces", perm: "org.invite; a role the caller's role can grant; workspace.invite (member) or workspace.configure (owner) per workspace", body: "InvitationCreate", status: 201, resp: "InvitationCreated"},
		},
		o + "/invitations/{id}": {"delete": {id: "revokeInvitation", summary: "Revoke a pending invitation", perm: "org.admin, or the inviter", status: 204}},
		o + "/invitations/{id}/resend": {"post": {id: "resendInvitation", summary: "A pending invitation's link again, and its email sent again",
			perm: "org.admin, or the inviter", body: "Empty", optionalBody: true, status: 200, resp: "InvitationCreated"}},
		o + "/requests":              {"get": {id: "listJoinRequests", summary: "Join requests", perm: admin, query: page, status: 200, resp: "JoinRequestList"}},
		o + "/requests/{id}/approve": {"post": {id: "approveJoinRequest", summary: "Approve: the user becomes a member with the default role", perm: admin, body: "Empty", optionalBody: true, status: 200, resp: "Member"}},
		o + "/requests/{id}/deny":    {"post": {id: "denyJoinRequest", summary: "Deny a join request", perm: admin, body: "Empty", optionalBody: true, status: 204}},
		o + "/service-accounts": {
			"get":  {id: "listServiceAccounts", summary: "Service accounts", perm: admin, query: page, status: 200, resp: "ServiceAccountList"},
			"post": {id: "createServiceAccount", summary: "Create a service account with an org role and workspaces", perm: admin, body: "ServiceAccountCreate", status: 201, resp: "ServiceAccount"},
		},
		o + "/service-accounts/{id}": {
			"patch":  {id: "patchServiceAccount", summary: "Rename a service account", perm: admin, body: "ServiceAccountPatch", status: 200, resp: "ServiceAccount"},
			"delete": {id: "deleteServiceAccount", summary: "Delete a service account, its memberships and keys", perm: admin, status: 204},
		},
		o + "/service-accounts/{id}/keys": {
			"get":  {id: "listAPIKeys", summary: "Keys of a service account: prefix, created, last used, revoked", perm: admin, status: 200, resp: "APIKeyList"},
			"post": {id: "createAPIKey", summary: "Create a key; the secret is in this response only", perm: admin, body: "Empty", optionalBody: true, status: 201, resp: "CreatedAPIKey"},
		},
		o + "/service-accounts/{id}/keys/{key}": {"delete": {id: "revokeAccountAPIKey", summary: "Revoke a key of this service account (idempotent)", perm: admin, status: 204}},
		o + "/keys/{key}":                       {"delete": {id: "revokeAPIKey", summary: "Revoke a key of any service account of the org (idempotent)", perm: admin, status: 204}},
		o + "/connections": {
			"get":  {id: "listConnections", summary: "Upstream IdP connections", perm: admin, status: 200, resp: "ConnectionList"},
			"post": {id: "createConnection", summary: "Create a SAML or OIDC connection (validated, not yet contacted)", perm: admin, body: "ConnectionCreate", status: 201, resp: "Connection"},
		},
		o + "/connections/{id}": {
			"get":    {id: "getConnection", summary: "A connection; the OIDC client secret is never returned", perm: admin, status: 200, resp: "Connection"},
			"patch":  {id: "patchConnection", summary: "Change a connection; an omitted client_secret is kept", perm: admin, body: "ConnectionPatch", status: 200, resp: "Connection"},
			"delete": {id: "deleteConnection", summary: "Delete a connection", perm: admin, status: 204},
		},
		o + "/connections/{id}/failures":       {"get": {id: "listConnectionFailures", summary: "The connection's recent sign-in failures (the last 50), newest first, with reason codes", perm: admin, status: 200, resp: "ConnectionFailureList"}},
		o + "/connections/{id}/sp-keys":        {"get": {id: "getSPKeys", summary: "The SAML connection's SP certificates: current, next (published, not yet signing) and previous (decrypting only)", perm: admin, status: 200, resp: "SPKeys"}},
		o + "/connections/{id}/sp-keys/rotate": {"post": {id: "rotateSPKey", summary: "One step of a SAML SP key rotation: publish the next certificate in our metadata, activate it (it signs from then on), or retire the previous one", perm: admin, body: "SPKeyStep", status: 200, resp: "SPKeys"}},
		o + "/connections/{id}/test":           {"post": {id: "startConnectionTest", summary: "Start a test sign-in through the connection (it may be disabled): a one-time URL that runs a real sign-in at the IdP and provisions nobody", perm: admin, status: 201, resp: "StartedConnectionTest"}},
		o + "/connections/{id}/tests/{tid}":    {"get": {id: "getConnectionTest", summary: "A test sign-in: pending, or what the IdP asserted and the roles it would map to, or the refusal's reason code (kept one hour)", perm: admin, status: 200, resp: "ConnectionTest"}},
		o + "/setup-links": {
			"get":  {id: "listSetupLinks", summary: "Setup links of the org (without their URLs)", perm: admin, status: 200, resp: "SetupLinkList"},
			"post": {id: "createSetupLink", summary: "Create a setup link for a customer's IT admin: its URL is in this response only", perm: admin, body: "SetupLinkCreate", optionalBody: true, status: 201, resp: "CreatedSetupLink"},
		},
		o + "/setup-links/{id}": {"delete": {id: "revokeSetupLink", summary: "Revoke a setup link at once", perm: admin, status: 204}},
		o + "/domains": {
			"get":  {id: "listDomains", summary: "Email domains and their verification state", perm: admin, status: 200, resp: "DomainList"},
			"post": {id: "addDomain", summary: "Claim a domain; verify it by DNS TXT", perm: admin, body: "DomainCreate", status: 201, resp: "Domain"},
		},
		o + "/domains/{domain}": {"delete": {id: "deleteDomain", summary: "Remove a domain", perm: admin, status: 204}},
		o + "/domains/{domain}/verify": {"post": {id: "verifyDomain",
			summary: `Look up TXT "ssobroker-verify=<token>" at _ssobroker-challenge.<domain> or <domain>; 422 verification_failed when absent`,
			perm:    admin, body: "Empty", optionalBody: true, status: 200, resp: "Domain"}},
		o + "/jwt-issuers": {
			"get":  {id: "listJWTIssuers", summary: "Trusted external JWT issuers", perm: admin, status: 200, resp: "JWTIssuerList"},
			"post": {id: "createJWTIssuer", summary: "Trust an external issuer's JWTs as a service account or as the members a claim names (docs/jwt-issuers.md)", perm: admin, body: "JWTIssuerCreate", status: 201, resp: "JWTIssuer"},
		},
		o + "/jwt-issuers/{id}": {
			"get":    {id: "getJWTIssuer", summary: "A trusted issuer with its recent refusals (the last 50, newest first, with reason codes)", perm: admin, status: 200, resp: "JWTIssuerWithFailures"},
			"delete": {id: "deleteJWTIssuer", summary: "Stop trusting an issuer", perm: admin, status: 204},
		},
		o + "/jwt-issuers/{id}/failures": {"get": {id: "listJWTIssuerFailures", summary: "The issuer's recent refused tokens (the last 50), newest first, with reason codes (docs/jwt-issuers.md)", perm: admin, status: 200, resp: "JWTIssuerFailureList"}},
		o + "/scim-tokens": {
			"get":  {id: "listSCIMTokens", summary: "SCIM bearer tokens of the org (docs/scim.md)", perm: admin, status: 200, resp: "SCIMTokenList"},
			"post": {id: "createSCIMToken", summary: "Create a SCIM bearer token for /scim/v2/{org}; the token is in this answer only", perm: admin, body: "SCIMTokenCreate", optionalBody: true, status: 201, resp: "SCIMTokenCreated"},
		},
		o + "/scim-tokens/{id}": {"delete": {id: "revokeSCIMToken", summary: "Revoke a SCIM token", perm: admin, status: 204}},
		o + "/audit":            {"get": {id: "listAudit", summary: "Audit log, newest first", perm: admin, query: append([]string{"since", "actor", "action"}, page...), status: 200, resp: "AuditList"}},
	}
}

func pathParamDocs() map[string]string {
	return map[string]string{
		"org":       "Organization id (org_…) or name; only the caller's own org exists for the caller",
		"ws":        "Workspace id (ws_…) or name; \"default\" is the org's default workspace",
		"principal": "User (usr_…) or service account (sa_…) id",
		"user":      "Member id: usr_… or sa_…",
		"id":        "Object id",
		"key":       "API key id (key_…)",
		"domain":    "Domain name",
		"did":       "Webhook delivery id (msg_…)",
		"tid":       "Connection test id (ctest_…)",
	}
}

func queryParams() map[string]map[string]any {
	return map[string]map[string]any{
		"cursor":      {"description": "Opaque cursor from a previous page's next_cursor", "schema": str()},
		"limit":       {"description": "Page size, 1-500 (default 50)", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 500}},
		"q":           {"description": "Keep workspaces whose name contains q, case-insensitively", "schema": str()},
		"new_default": {"description": "When deleting the default workspace: the workspace (id or name) that becomes the default", "schema": str()},
		"since":       {"description": "Only entries at or after this RFC 3339 time", "schema": map[string]any{"type": "string", "format": "date-time"}},
		"actor":       {"description": "Only entries by this principal id", "schema": str()},
		"action":      {"description": "Only entries of this action, such as workspace.create", "schema": str()},
	}
}

// openAPIDocument renders the document; server is the broker's base URL.
func openAPIDocument(server string) []byte {
	paths := map[string]any{}
	params := paramDocs{path: pathParamDocs(), query: queryParams(), re: regexp.MustCompile(`\{([a-z]+)\}`)}
	all := openAPIPaths()
	for p, ops := range webhookOpenAPIPaths("/api/v1/orgs/{org}", "org.admin") {
		all[p] = ops
	}
	for p, ops := range all {
		item := map[string]any{}
		for method, o := range ops {
			item[method] = o.render(p, method, params)
		}
		paths[p] = item
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "ssobroker admin API",
			"version": "1",
			"description": "Manage an organization of ssobroker. Authenticate with `Authorization: Bearer <access token>` " +
				"or an API key (`Authorization: Bearer ssb_…`, or a bare `ssb_…`). A credential belongs to one organization; " +
				"any other {org} is 404. Errors are `{\"error\":{\"code\",\"message\",\"field\"}}`; a 403 names the missing permission.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"accessToken": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"apiKey":      map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "description": "ssb_… with or without Bearer"},
			},
			"schemas":   withSchemas(openAPISchemas(), webhookOpenAPISchemas()),
			"responses": errorResponses(),
		},
		"security": []any{map[string]any{"accessToken": []any{}}, map[string]any{"apiKey": []any{}}},
	}
	if server != "" {
		doc["servers"] = []any{map[string]any{"url": strings.TrimSuffix(server, "/")}}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("adminapi: OpenAPI document does not marshal: " + err.Error()) // static data; a test renders it
	}
	return b
}

// paramDocs describes the parameters operations name.
type paramDocs struct {
	path  map[string]string
	query map[string]map[string]any
	re    *regexp.Regexp
}

func (o op) render(path, method string, pd paramDocs) map[string]any {
	out := map[string]any{"operationId": o.id, "summary": o.summary}
	if o.perm != "" {
		out["x-permission"] = o.perm
	}
	var params []any
	for _, m := range pd.re.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"description": pd.path[m[1]], "schema": str()})
	}
	for _, q := range o.query {
		p := map[string]any{"name": q, "in": "query"}
		for k, v := range pd.query[q] {
			p[k] = v
		}
		params = append(params, p)
	}
	if o.etag {
		h := "If-Match"
		if method == "get" {
			h = "If-None-Match"
		}
		params = append(params, map[string]any{"name": h, "in": "header", "schema": str(),
			"description": "An ETag from this API: the version the change is based on (If-Match, 412 on mismatch) or the one already held (If-None-Match, 304)"})
	}
	if params != nil {
		out["parameters"] = params
	}
	if o.body != "" {
		out["requestBody"] = map[string]any{"required": !o.optionalBody,
			"content": map[string]any{"application/json": map[string]any{"schema": ref(o.body)}}}
	}
	ok := map[string]any{"description": strings.ToLower(o.summary[:1]) + o.summary[1:]}
	switch {
	case o.resp != "":
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(o.resp)}}
	case o.public:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
	}
	if o.etag {
		ok["headers"] = map[string]any{"ETag": map[string]any{"schema": str(), "description": "The object's version"}}
	}
	responses := map[string]any{strconv.Itoa(o.status): ok}
	if o.public {
		out["security"] = []any{}
		out["responses"] = responses
		return out
	}
	errs := []string{"401", "403", "404", "503"}
	if o.body != "" {
		errs = append(errs, "400", "413", "415", "422")
	}
	if method != "get" {
		errs = append(errs, "409", "422")
	}
	if o.etag && method != "get" {
		errs = append(errs, "412")
	}
	if o.etag && method == "get" {
		responses["304"] = map[string]any{"description": "not modified"}
	}
	sort.Strings(errs)
	for _, code := range errs {
		responses[code] = map[string]any{"$ref": "#/components/responses/" + code}
	}
	if strings.Contains(path, "/jwt-issuers") {
		responses["501"] = map[string]any{"$ref": "#/components/responses/501"}
	}
	out["responses"] = responses
	return out
}

func errorResponses() map[string]any {
	d := map[string]string{
		"400": "Malformed JSON or trailing data",
		"401": "No credentials, or invalid, expired or revoked ones (WWW-Authenticate: Bearer)",
		"403": "Authenticated but missing a permission; the message names it",
		"404": "No such object in the caller's organization",
		"409": "Conflict with an existing object, or an invariant (code = the rule, such as last_admin)",
		"412": "If-Match names an older version",
		"413": "Body larger than 64 KiB",
		"415": "Body is not application/json",
		"422": "Validation failed; field names the field",
		"501": "Not available on this server",
		"503": "The directory (or DNS) is unavailable; Retry-After says when to retry",
	}
	out := map[string]any{}
	for code, desc := range d {
		out[code] = map[string]any{"description": desc,
			"content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
	}
	return out
}

// Schema helpers.

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
func str() map[string]any            { return map[string]any{"type": "string"} }
func boolean() map[string]any        { return map[string]any{"type": "boolean"} }
func integer() map[string]any        { return map[string]any{"type": "integer"} }
func dateTime() map[string]any       { return map[string]any{"type": "string", "format": "date-time"} }
func nullableTime() map[string]any {
	return map[string]any{"type": []string{"string", "null"}, "format": "date-time"}
}
func enum(vals ...string) map[string]any { return map[string]any{"type": "string", "enum": vals} }
func arr(items map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": items}
}
func strMap(v map[string]any) map[string]any {
	return map[string]any{"type": "object", "additionalProperties": v}
}
func describe(s map[string]any, d string) map[string]any { s["description"] = d; return s }

// object is a response object; input is a request object (unknown fields are refused).
func object(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func input(props map[string]any, required ...string) map[string]any {
	o := object(props, required...)
	o["additionalProperties"] = false
	return o
}

func listOf(item string) map[string]any {
	return object(map[string]any{"items": arr(ref(item)),
		"next_cursor": describe(str(), "Present when another page may follow: pass it as ?cursor=")}, "items")
}

func openAPISchemas() map[string]any {
	orgRole := enum("admin", "platform_member", "opik_member", "view_only_platform_member")
	wsRole := enum("owner", "member")
	grant := input(map[string]any{"workspace_id": describe(str(), "Workspace id or name"), "role": wsRole}, "workspace_id", "role")
	samlFields := func() map[string]any {
		return map[string]any{
			"metadata_xml": describe(str(), "IdP metadata (an EntityDescriptor); no DOCTYPE"),
			"metadata_url": describe(str(), "https URL of the IdP metadata (http only for loopback); fetched and checked when configured, refreshed hourly"),
			"entity_id":    str(), "sso_url": str(),
			"certificates":         describe(arr(str()), "PEM certificates, one per entry, valid now"),
			"allow_idp_initiated":  describe(boolean(), "Accept unsolicited (IdP-initiated) responses; default false"),
			"idp_initiated_target": describe(str(), "Relative path on the broker where an IdP-initiated login lands; required with allow_idp_initiated"),
			"sign_requests":        describe(boolean(), "Sign AuthnRequests with the connection's SP key (RSA-SHA256); default true"),
			"request_binding":      enum("redirect", "post"),
			"name_id_format":       enum("unspecified", "persistent", "email", "transient"),

			"want_assertions_signed": describe(boolean(), "Demand the assertion's own signature (and say WantAssertionsSigned in the SP metadata); default false: a Response signed as a whole is enough"),
		}
	}
	saml := input(samlFields())
	samlOut := samlFields()
	samlOut["sp_entity_id"] = describe(str(), "Our entity ID for this connection (its SP metadata URL)")
	samlOut["acs_url"] = describe(str(), "Our assertion consumer service (HTTP-POST binding)")
	samlOut["sp_metadata_url"] = describe(str(), "Our signed SP metadata, to give the IdP")
	samlOut["sp_certificate"] = describe(str(), "PEM certificate of the SP key: signs requests and metadata, decrypts assertions")
	samlOut["idp_certificates"] = describe(arr(object(map[string]any{"subject": str(), "not_after": dateTime(),
		"expires_soon": describe(boolean(), "From 30 days before not_after")})), "The IdP's signing certificates the configuration holds (metadata XML or given by hand)")
	oidcIn := input(map[string]any{
		"issuer": describe(str(), "https issuer (http only for loopback)"), "client_id": str(),
		"client_secret":          describe(str(), "Write-only; stored encrypted"),
		"scopes":                 describe(arr(str()), `Must include "openid"; default openid, email, profile`),
		"require_email_verified": describe(boolean(), "Refuse users whose email_verified is not true; default true"),
		"userinfo":               enum("auto", "always", "never"),
	})
	connIn := func(required ...string) map[string]any {
		return input(map[string]any{
			"type": enum("saml", "oidc"), "name": str(), "enabled": describe(boolean(), "Default true"),
			"saml": saml, "oidc": oidcIn,
			"attribute_mapping": describe(strMap(str()), "Our attribute (subject, email, email_verified, name, given_name, family_name, groups) → IdP attribute or claim"),
			"group_roles":       describe(strMap(orgRole), "Upstream group → org role"),
			"group_workspaces":  describe(strMap(strMap(wsRole)), "Upstream group → workspace name or id → workspace role"),
		}, required...)
	}
	wsMember := object(map[string]any{"workspace_id": str(), "workspace_name": str(), "principal_id": str(), "name": str(),
		"email": str(), "role": wsRole, "can_invite": boolean(), "can_make_public": boolean()})
	apiKey := map[string]any{"id": str(), "service_account_id": str(), "org_id": str(), "prefix": describe(str(), "The key's visible start"),
		"created_at": dateTime(), "last_used_at": nullableTime(), "revoked_at": nullableTime()}
	createdKey := map[string]any{"secret": describe(str(), "The key: shown in this response only")}
	for k, v := range apiKey {
		createdKey[k] = v
	}
	return map[string]any{
		"Error": object(map[string]any{"error": object(map[string]any{
			"code":    describe(str(), "Stable code: unauthorized, invalid_token, forbidden, not_found, conflict, an invariant rule, invalid, precondition_failed, too_large, unsupported_media_type, bad_request, verification_failed, unavailable, internal"),
			"message": str(), "field": describe(str(), "The field that failed validation (422)")}, "code", "message")}, "error"),
		"Empty": input(map[string]any{}),
		"Me": object(map[string]any{
			"principal": object(map[string]any{"id": str(), "type": enum("user", "service_account"), "name": str(), "email": str()}),
			"org":       describe(str(), "The org this credential acts in"),
			"workspace": describe(str(), "The workspace a narrowed token is limited to"),
			"orgs": arr(object(map[string]any{"id": str(), "name": str(), "role": orgRole, "current": boolean(),
				"permissions": describe(arr(str()), "Org-scoped permissions (current org only)"), "default_workspace": str(),
				"workspaces": arr(object(map[string]any{"id": str(), "name": str(), "role": wsRole, "can_invite": boolean(),
					"can_make_public": boolean(), "permissions": arr(str())}))})),
		}),
		"Organization": object(map[string]any{"id": str(), "name": str(), "plan": enum("community", "starter", "enterprise"),
			"plan_started_at": dateTime(), "created_at": dateTime(), "version": describe(integer(), "Also the ETag"),
			"settings": object(map[string]any{"only_admins_can_invite": boolean(), "jit_mode": enum("auto", "approval", "invite_only"),
				"default_org_role": orgRole, "default_workspace": describe(str(), "Workspace id")})}),
		"OrgPatch": input(map[string]any{"name": str(),
			"settings": input(map[string]any{"only_admins_can_invite": boolean(), "jit_mode": enum("auto", "approval", "invite_only"),
				"default_org_role":  enum("platform_member", "opik_member", "view_only_platform_member"),
				"default_workspace": describe(str(), "Accepted only unchanged; use PUT …/workspaces/{ws}/default")}),
			"plan":            describe(map[string]any{}, "Read-only: sending it is a 422"),
			"plan_started_at": describe(map[string]any{}, "Read-only: sending it is a 422")}),
		"Billing": object(map[string]any{"plan": enum("community", "starter", "enterprise"), "plan_started_at": dateTime(),
			"members": describe(integer(), "Human members"), "admins": describe(integer(), "Human admins"),
			"service_accounts": integer(), "pending_requests": integer()}),
		"Workspace":       object(map[string]any{"id": str(), "org_id": str(), "name": str(), "default": boolean(), "created_at": dateTime()}),
		"WorkspaceList":   listOf("Workspace"),
		"WorkspaceCreate": input(map[string]any{"name": describe(str(), "^[a-z0-9][a-z0-9-]{0,62}$, unique across the deployment, not \"default\"")}, "name"),
		"WorkspacePatch":  input(map[string]any{"name": str()}, "name"),
		"WorkspaceMember": wsMember, "WorkspaceMemberList": listOf("WorkspaceMember"),
		"WorkspaceMemberPut": input(map[string]any{"role": wsRole, "can_invite": boolean(), "can_make_public": boolean()}, "role"),
		"Member": object(map[string]any{"org_id": str(), "principal_id": str(), "type": enum("user", "service_account"), "role": orgRole,
			"name": str(), "email": str(), "created_at": dateTime(), "version": describe(integer(), "Also the ETag")}),
		"MemberList":  listOf("Member"),
		"MemberPatch": input(map[string]any{"role": orgRole}, "role"),
		"Invitation": object(map[string]any{"id": str(), "org_id": str(), "email": str(), "role": orgRole, "workspaces": arr(grant),
			"invited_by": str(), "created_at": dateTime(), "expires_at": dateTime(), "state": enum("pending", "accepted", "revoked", "expired")}),
		"InvitationList": listOf("Invitation"),
		"InvitationCreated": object(map[string]any{"id": str(), "org_id": str(), "email": str(), "role": orgRole, "workspaces": arr(grant),
			"invited_by": str(), "created_at": dateTime(), "expires_at": dateTime(), "state": enum("pending", "accepted", "revoked", "expired"),
			"accept_url": describe(str(), "{issuer}/invite/{id}: the invitee opens it and signs in with the invited email"),
			"mail":       describe(enum("sent", "not_configured", "failed"), "The invitation email: not_configured without SSOBROKER_SMTP_URL; failed is logged, the invitation stays pending")}),
		"InvitationCreate": input(map[string]any{"email": str(), "role": describe(orgRole, "Default: the org's default_org_role"),
			"workspaces": arr(grant), "expires_in": describe(integer(), "Seconds; default 7 days, at most 90 days")}, "email"),
		"JoinRequest": object(map[string]any{"id": str(), "org_id": str(), "user_id": str(), "email": str(),
			"state": enum("pending", "approved", "denied"), "created_at": dateTime()}),
		"JoinRequestList": listOf("JoinRequest"),
		"ServiceAccount": object(map[string]any{"id": str(), "org_id": str(), "name": str(), "role": orgRole,
			"created_by": str(), "created_at": dateTime()}),
		"ServiceAccountList":   listOf("ServiceAccount"),
		"ServiceAccountCreate": input(map[string]any{"name": str(), "role": orgRole, "workspaces": arr(grant)}, "name", "role"),
		"ServiceAccountPatch":  input(map[string]any{"name": str()}, "name"),
		"APIKey":               object(apiKey), "APIKeyList": listOf("APIKey"),
		"CreatedAPIKey": object(createdKey, "secret"),
		"Connection": object(map[string]any{"id": str(), "org_id": str(), "type": enum("saml", "oidc"), "name": str(), "enabled": boolean(),
			"created_at": dateTime(), "saml": object(samlOut),
			"oidc": object(map[string]any{"issuer": str(), "client_id": str(), "client_secret_set": boolean(), "scopes": arr(str()),
				"require_email_verified": boolean(), "userinfo": enum("auto", "always", "never"),
				"callback_url": describe(str(), "The redirect URI to register at the IdP")}),
			"attribute_mapping": strMap(str()), "group_roles": strMap(orgRole), "group_workspaces": strMap(strMap(wsRole))}),
		"ConnectionList": listOf("Connection"),
		"ConnectionFailure": object(map[string]any{"org_id": str(), "connection_id": str(),
			"reason":       describe(str(), "Stable reason code: saml.audience, saml.signature, saml.replay, oidc.state, oidc.email_unverified, jit.invite_only, jit.pending_approval, upstream.unreachable, …"),
			"reference":    describe(str(), "The reference shown to the user, also in the operator's log"),
			"at":           dateTime(),
			"detail_class": enum("availability", "policy", "configuration", "response")}),
		"ConnectionFailureList": listOf("ConnectionFailure"),
		"SPKeyStep":             object(map[string]any{"step": enum("publish", "activate", "retire")}, "step"),
		"SPKey": object(map[string]any{"certificate": describe(str(), "PEM"), "sha256": describe(str(), "SHA-256 fingerprint, hex pairs"),
			"not_after": dateTime(), "published_at": describe(dateTime(), "When the next certificate was published (next only)")}),
		"SPKeys": object(map[string]any{"current": ref("SPKey"), "next": ref("SPKey"), "previous": ref("SPKey")}),
		"ConnectionTest": object(map[string]any{"id": str(), "org_id": str(), "connection_id": str(), "started_by": str(),
			"status": enum("pending", "succeeded", "failed"), "created_at": dateTime(), "completed_at": dateTime(),
			"expires_at": describe(dateTime(), "When the result is forgotten"),
			"identity": object(map[string]any{"issuer": str(), "subject": str(), "email": str(), "email_verified": boolean(),
				"name": str(), "groups": arr(str()), "attributes": strMap(arr(str()))}),
			"mapping": object(map[string]any{"mapped_org_role": describe(orgRole, "The org role the group mapping gives (absent: none)"),
				"org_role":   describe(orgRole, "The role a newcomer admitted just in time gets: the mapped role, else the org's default"),
				"workspaces": strMap(wsRole), "jit_mode": enum("auto", "approval", "invite_only"), "admission": str()}),
			"reason":    describe(str(), "A refusal's stable reason code, as in the sign-in failures"),
			"cause":     enum("availability", "policy", "configuration", "response"),
			"message":   str(),
			"reference": str()}, "id", "status"),
		"StartedConnectionTest": object(map[string]any{"test": ref("ConnectionTest"),
			"url": describe(str(), "{issuer}/sso/test/{token}: one-time, valid 15 minutes; the browser that follows it signs in at the IdP and lands on the console's result page")}, "test", "url"),
		"SetupLink": object(map[string]any{"id": str(), "org_id": str(), "created_by": str(), "expires_at": dateTime(),
			"created_at": dateTime(), "revoked_at": nullableTime()}),
		"SetupLinkList":   listOf("SetupLink"),
		"SetupLinkCreate": input(map[string]any{"expires_in": describe(str(), `Duration such as "72h" (default), at most 720h`)}),
		"CreatedSetupLink": object(map[string]any{"id": str(), "org_id": str(), "created_by": str(), "expires_at": dateTime(),
			"created_at": dateTime(), "revoked_at": nullableTime(), "url": describe(str(), "{issuer}/setup/{token}: shown in this response only")}),
		"ConnectionCreate": connIn("type", "name"),
		"ConnectionPatch":  connIn(),
		"Domain": object(map[string]any{"org_id": str(), "domain": str(), "verification_token": str(), "verified": boolean(),
			"verified_at": nullableTime(), "created_at": dateTime(),
			"verification": describe(object(map[string]any{"record_type": enum("TXT"), "record_names": arr(str()), "record_value": str()}),
				"While unverified: publish record_value as a TXT record at one of record_names")}),
		"DomainList":            listOf("Domain"),
		"DomainCreate":          input(map[string]any{"domain": str()}, "domain"),
		"JWTIssuer":             object(jwtIssuerFields()),
		"JWTIssuerList":         listOf("JWTIssuer"),
		"JWTIssuerWithFailures": object(jwtIssuerFields("recent_failures", arr(ref("JWTIssuerFailure")))),
		"JWTIssuerFailure": object(map[string]any{"org_id": str(), "jwt_issuer_id": str(),
			"reason": describe(str(), "The refusal's stable reason code (docs/jwt-issuers.md)"), "detail": str(), "at": dateTime()}),
		"JWTIssuerFailureList": listOf("JWTIssuerFailure"),
		"SCIMToken": object(map[string]any{"id": str(), "org_id": str(), "name": str(), "prefix": str(), "created_by": str(),
			"created_at": dateTime(), "revoked_at": nullableTime()}),
		"SCIMTokenList": listOf("SCIMToken"),
		"SCIMTokenCreated": object(map[string]any{"id": str(), "org_id": str(), "name": str(), "prefix": str(), "created_by": str(),
			"created_at": dateTime(), "revoked_at": nullableTime(), "token": describe(str(), "scim_…: shown once; only its SHA-256 is stored")}),
		"SCIMTokenCreate": input(map[string]any{"name": describe(str(), "A label, such as the identity provider's name")}),
		"JWTIssuerCreate": input(map[string]any{"name": str(), "issuer": describe(str(), "Exact iss; https"),
			"jwks_uri": describe(str(), "Default: discovered from the issuer"), "audience": str(),
			"subject": describe(str(), "When set, the only sub accepted"), "service_account_id": describe(str(), "The account these tokens act as (or user_claim)"),
			"user_claim": describe(str(), "Instead of service_account_id: the claim naming the member these tokens act as"),
			"user_match": describe(enum("email", "identity"), "How user_claim's value finds the member (default: email for the email claim, else identity)"),
			"role_claim": describe(str(), "A claim carrying the org role asked for; needs max_role"),
			"max_role":   describe(enum(orgRoleNames()...), "The highest org role a token of this issuer gets")},
			"name", "issuer", "audience"),
		"AuditEvent": object(map[string]any{"id": integer(), "org_id": str(), "actor": str(), "action": str(), "target": str(),
			"at": dateTime(), "before": map[string]any{}, "after": map[string]any{}}),
		"AuditList": listOf("AuditEvent"),
	}
}

// jwtIssuerFields are a trusted issuer's properties, with extra name/value pairs.
func jwtIssuerFields(extra ...any) map[string]any {
	m := map[string]any{"id": str(), "org_id": str(), "name": str(), "issuer": str(), "jwks_uri": str(),
		"audience": str(), "subject": str(), "service_account_id": str(), "user_claim": str(), "user_match": str(),
		"role_claim": str(), "max_role": str(), "created_by": str(), "created_at": dateTime()}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// orgRoleNames are the org roles, as access lists them.
func orgRoleNames() []string {
	var out []string
	for _, r := range access.OrgRoles() {
		out = append(out, string(r))
	}
	return out
}

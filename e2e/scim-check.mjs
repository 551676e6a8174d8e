// scim-check.mjs validates SCIM 2.0 responses of ssobroker with an
// independent implementation, the npm library SCIMMY, whose schema
// definitions follow RFC 7643 §4 (User, Group), §5 (ServiceProviderConfig)
// and §6 (ResourceType), and whose ListResponse follows RFC 7644 §3.4.2.
// SCIMMY has no validator for the Schema resource (RFC 7643 §7) or the error
// message (RFC 7644 §3.12); those two are checked here by their RFC text.
//
// Input on stdin: one JSON object per line, {"kind": "...", "body": {...}},
// kind one of User, Group, ListResponse, Error, ServiceProviderConfig,
// ResourceType, Schema. Output: one line per input, "ok" or "error: why".
// Run by directory/scim's TestResponsesValidateWithSCIMMY.
import SCIMMY from "scimmy";
import { createInterface } from "node:readline";

const scimTypes = new Set(["invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax",
  "invalidPath", "noTarget", "invalidValue", "invalidVers", "sensitive"]);

function checkResource(body) {
  const type = body?.meta?.resourceType;
  if (type === "User") return SCIMMY.Schemas.User.definition.coerce(body);
  if (type === "Group") return SCIMMY.Schemas.Group.definition.coerce(body);
  throw new Error(`resource of unknown meta.resourceType ${JSON.stringify(type)}`);
}

function checkError(body) {
  if (!Array.isArray(body.schemas) || body.schemas.length !== 1 || body.schemas[0] !== "urn:ietf:params:scim:api:messages:2.0:Error")
    throw new Error("schemas must be exactly the Error URN");
  if (typeof body.status !== "string" || !/^[1-5][0-9][0-9]$/.test(body.status))
    throw new Error("status must be the HTTP status code as a string");
  if (body.scimType !== undefined && !scimTypes.has(body.scimType))
    throw new Error(`scimType ${body.scimType} is not one of RFC 7644 Table 9`);
  if (body.scimType !== undefined && body.status !== "400" && body.scimType !== "uniqueness")
    throw new Error("scimType goes with 400 (or 409 uniqueness)");
  if (body.detail !== undefined && typeof body.detail !== "string") throw new Error("detail must be a string");
}

function checkSchema(body) {
  if (!body.schemas?.includes("urn:ietf:params:scim:schemas:core:2.0:Schema")) throw new Error("not a Schema resource");
  if (typeof body.id !== "string" || !body.id.startsWith("urn:")) throw new Error("id must be the schema URN");
  const types = new Set(["string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"]);
  const walk = (attrs, depth) => {
    if (!Array.isArray(attrs)) throw new Error("attributes must be an array");
    for (const a of attrs) {
      if (typeof a.name !== "string" || !types.has(a.type)) throw new Error(`attribute ${a.name}: bad name or type`);
      if (typeof a.multiValued !== "boolean" || typeof a.required !== "boolean") throw new Error(`attribute ${a.name}: multiValued and required are booleans`);
      if (!["readOnly", "readWrite", "immutable", "writeOnly"].includes(a.mutability)) throw new Error(`attribute ${a.name}: mutability`);
      if (!["always", "never", "default", "request"].includes(a.returned)) throw new Error(`attribute ${a.name}: returned`);
      if (a.type === "complex") {
        if (depth > 0) throw new Error(`attribute ${a.name}: complex sub-attributes are not allowed`);
        walk(a.subAttributes, depth + 1);
      }
    }
  };
  walk(body.attributes, 0);
}

function check(kind, body) {
  switch (kind) {
    case "User":
    case "Group":
      if (body?.meta?.resourceType !== kind) throw new Error(`meta.resourceType is not ${kind}`);
      checkResource(body);
      return;
    case "ListResponse": {
      const list = new SCIMMY.Messages.ListResponse(body);
      if (list.totalResults < body.Resources.length) throw new Error("totalResults is less than the resources returned");
      for (const r of body.Resources) {
        if (r.schemas?.includes("urn:ietf:params:scim:schemas:core:2.0:Schema")) checkSchema(r);
        else if (r.schemas?.includes("urn:ietf:params:scim:schemas:core:2.0:ResourceType")) SCIMMY.Schemas.ResourceType.definition.coerce(r);
        else checkResource(r);
      }
      return;
    }
    case "Error":
      checkError(body);
      return;
    case "ServiceProviderConfig":
      SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(body);
      return;
    case "ResourceType":
      SCIMMY.Schemas.ResourceType.definition.coerce(body);
      return;
    case "Schema":
      checkSchema(body);
      return;
  }
  throw new Error(`unknown kind ${kind}`);
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  try {
    const { kind, body } = JSON.parse(line);
    check(kind, body);
    console.log("ok");
  } catch (e) {
    console.log("error: " + String(e?.message ?? e).replace(/\n/g, " "));
  }
}

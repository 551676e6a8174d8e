#!/usr/bin/python3
"""A SAML 2.0 identity provider on pysaml2 for ssobroker's end-to-end tests.

Started by e2e/peers/saml.go (StartPySAML2) as

    /usr/bin/python3 pysaml2_idp.py SETTINGS.json

It listens on 127.0.0.1 (the port in the settings; 0 picks a free one), prints
one JSON line {"ready": true, "port": N} on stdout and serves until killed:

    GET  /metadata              the IdP's metadata (also its entity ID)
    GET  /sso/redirect          AuthnRequest, HTTP-Redirect binding
    POST /sso/post              AuthnRequest, HTTP-POST binding
    GET  /idp-initiated?sp=ENTITY_ID[&RelayState=…]   unsolicited login
    GET  /login?AuthState=…     the login form; POST /login submits it

A login answers with pysaml2's auto-submitting HTTP-POST form to the SP's
assertion consumer service. The service providers live in the file named by
"sps_file" in the settings (written by the Go harness at any time, reread on
every request): {entity_id: {"metadata_file", "encrypt_assertions",
"require_signed_requests", "sign_response_only", "signing_certs": [PEM…]}}.

Everything is pysaml2 (saml2.server.Server) except the HTML pages, the login
state and the check of HTTP-Redirect signatures, which pysaml2 leaves to its
caller and which this script does over the raw query string (SAML bindings
3.4.4.1) with the SP's signing certificates from its metadata.

Two departures from pysaml2 7.0 as shipped, each undone by a setting (see
PREFIXES and use_aes256_cbc): the usual namespace prefixes are registered
("generated_prefixes" keeps ns0, ns1, …), and assertions are encrypted with
AES-256-CBC ("triple_des" keeps pysaml2's fixed 3DES-CBC).
"""

import base64
import functools
import hmac
import html
import json
import os
import secrets
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import saml2.entity
import saml2.sigver
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.saml import AUTHN_PASSWORD
from saml2.server import Server

ATTRIBUTES = ["uid", "email", "givenName", "sn", "groups"]

# Redirect-binding signature algorithms this IdP verifies (as pysaml2 does,
# SHA-1 included: a test about refusing SHA-1 belongs to the SP under test).
SIG_ALGS = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("ec", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512),
}

# The usual prefixes. Without them ElementTree makes up ns0, ns1, … per
# serialization, and pysaml2 serializes the EncryptedData template on its own:
# inside an EncryptedAssertion ns0 and ns1 are redeclared for xmlenc and
# xmldsig while the Response uses them for the protocol and assertion
# namespaces. That is valid XML, but crewjam/saml v0.5.1 hoists every prefix
# declaration to the root when it re-parses an element and then fails
# ("expected element <Response> in name space …protocol but have …xmlenc#").
# The settings' "generated_prefixes" keeps pysaml2's own behaviour.
PREFIXES = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}

# pysaml2 7.0 encrypts assertions with 3DES-CBC and has no setting for it:
# Entity._encrypt_assertion takes pre_encryption_part's default template
# (tripledes-cbc) and SecurityContext.encrypt_assertion's default session key
# (xmlsec1 --session-key des-192). crewjam/saml v0.5.1 cannot decrypt 3DES (it
# expects an 8-byte key), and 3DES is deprecated, so unless the settings'
# "triple_des" asks for pysaml2's own behaviour both defaults are switched to
# AES-256-CBC; key transport stays RSA-OAEP-MGF1P.
AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"


def use_aes256_cbc():
    saml2.entity.pre_encryption_part = functools.partial(
        saml2.sigver.pre_encryption_part, msg_enc=AES256_CBC)
    encrypt = saml2.sigver.SecurityContext.encrypt_assertion

    def encrypt_assertion(self, statement, enc_key, template, key_type="aes-256",
                          node_xpath=None):
        return encrypt(self, statement, enc_key, template, key_type, node_xpath)

    saml2.sigver.SecurityContext.encrypt_assertion = encrypt_assertion


STATE_LIFETIME = 600  # seconds a started login may wait for its password


class Refused(Exception):
    """A request the IdP refuses; shown to the browser with status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class IdP:
    def __init__(self, settings, base_url):
        self.settings = settings
        self.base = base_url
        self.entity_id = base_url + "/metadata"
        self.users = {u["username"]: u for u in settings["users"]}
        self.lock = threading.Lock()
        self.states = {}
        self.sps_raw = None
        self.sps = {}
        self.server = None
        self.map_dir = os.path.join(settings["dir"], "attributemaps")
        os.makedirs(self.map_dir, exist_ok=True)
        # The attribute map: our names as they are, basic name format (without
        # one pysaml2 renames them to urn:oid: forms or drops them).
        names = {a: a for a in ATTRIBUTES}
        with open(os.path.join(self.map_dir, "ssobroker_basic.py"), "w") as f:
            f.write("MAP = %r\n" % {
                "identifier": NAME_FORMAT_BASIC, "fro": names, "to": names})
        self.metadata_xml = None
        self.reload()

    def config(self):
        idp = {
            "name": "ssobroker test IdP (pysaml2)",
            "endpoints": {
                "single_sign_on_service": [
                    (self.base + "/sso/redirect", BINDING_HTTP_REDIRECT),
                    (self.base + "/sso/post", BINDING_HTTP_POST),
                ],
            },
            "signing_algorithm": xmldsig.SIG_RSA_SHA256,
            "digest_algorithm": xmldsig.DIGEST_SHA256,
            "sign_response": True,
            "sign_assertion": True,
            "want_authn_requests_signed": False,  # per SP, checked here
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "policy": {
                "default": {
                    "lifetime": {"minutes": 15},
                    "attribute_restrictions": None,
                    "name_form": NAME_FORMAT_BASIC,
                },
            },
        }
        conf = {
            "entityid": self.entity_id,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": self.settings["key_file"],
            "cert_file": self.settings["cert_file"],
            "signing_algorithm": xmldsig.SIG_RSA_SHA256,
            "digest_algorithm": xmldsig.DIGEST_SHA256,
            "only_use_keys_in_metadata": True,
            "attribute_map_dir": self.map_dir,
            "delete_tmpfiles": True,
            "service": {"idp": idp},
        }
        files = [sp["metadata_file"] for sp in self.sps.values()]
        if files:
            conf["metadata"] = {"local": files}
        c = IdPConfig()
        c.load(conf)
        return c

    def reload(self):
        """Rereads the SP list; rebuilds the pysaml2 server when it changed."""
        try:
            with open(self.settings["sps_file"], "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = b"{}"
        if raw == self.sps_raw:
            return
        self.sps = json.loads(raw)
        conf = self.config()
        self.server = Server(config=conf)
        if self.metadata_xml is None:
            self.metadata_xml = str(entity_descriptor(conf))
        self.sps_raw = raw
        log("pysaml2 IdP: %d service provider(s): %s" % (len(self.sps), ", ".join(self.sps)))

    # -- requests ------------------------------------------------------------

    def authn_request(self, binding, saml_request, relay_state, raw_query=""):
        if not saml_request:
            raise Refused(400, "no SAMLRequest")
        try:
            req = self.server.parse_authn_request(saml_request, binding)
        except Exception as e:
            raise Refused(400, "bad AuthnRequest: %s: %s" % (type(e).__name__, e))
        if req is None:
            raise Refused(400, "bad AuthnRequest (IssueInstant out of range?)")
        msg = req.message
        issuer = msg.issuer.text.strip() if msg.issuer is not None and msg.issuer.text else ""
        sp = self.sps.get(issuer)
        if sp is None:
            raise Refused(400, "unknown service provider %r" % issuer)
        if binding == BINDING_HTTP_REDIRECT:
            signed = self.check_redirect_signature(issuer, sp, raw_query)
        else:
            # pysaml2 verified an enveloped signature against the SP's
            # metadata keys while parsing, if there was one.
            signed = msg.signature is not None
        if sp.get("require_signed_requests") and not signed:
            raise Refused(403, "AuthnRequest from %s is not signed; this IdP requires "
                               "signed requests from it" % issuer)
        try:
            args = self.server.response_args(msg, [BINDING_HTTP_POST])
        except Exception as e:
            raise Refused(400, "no assertion consumer service for this request: %s" % e)
        return self.new_state({
            "sp": issuer,
            "destination": args["destination"],
            "in_response_to": args["in_response_to"],
            "relay_state": relay_state,
        })

    def idp_initiated(self, sp_entity_id, relay_state):
        if sp_entity_id not in self.sps:
            raise Refused(400, "unknown service provider %r" % sp_entity_id)
        try:
            _, destination = self.server.pick_binding(
                "assertion_consumer_service", bindings=[BINDING_HTTP_POST],
                entity_id=sp_entity_id)
        except Exception as e:
            raise Refused(400, "no HTTP-POST assertion consumer service for %s: %s"
                          % (sp_entity_id, e))
        return self.new_state({
            "sp": sp_entity_id,
            "destination": destination,
            "in_response_to": None,
            "relay_state": relay_state,
        })

    def check_redirect_signature(self, issuer, sp, raw_query):
        """Verifies SigAlg/Signature over the raw query; False when unsigned."""
        raw = {}
        for part in raw_query.split("&"):
            name, _, value = part.partition("=")
            raw.setdefault(name, value)
        if "Signature" not in raw and "SigAlg" not in raw:
            return False
        sig_alg = urllib.parse.unquote_plus(raw.get("SigAlg", ""))
        if sig_alg not in SIG_ALGS:
            raise Refused(400, "unsupported SigAlg %r" % sig_alg)
        kind, hash_cls = SIG_ALGS[sig_alg]
        try:
            signature = base64.b64decode(urllib.parse.unquote_plus(raw.get("Signature", "")))
        except ValueError:
            raise Refused(400, "Signature is not base64")
        octets = "&".join(
            "%s=%s" % (k, raw[k]) for k in ("SAMLRequest", "RelayState", "SigAlg") if k in raw
        ).encode("ascii")
        certs = sp.get("signing_certs") or []
        if not certs:
            raise Refused(403, "AuthnRequest from %s is signed but its metadata has no "
                               "signing certificate" % issuer)
        for pem in certs:
            key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
            try:
                if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
                    key.verify(signature, octets, padding.PKCS1v15(), hash_cls())
                    return True
                if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                    key.verify(signature, octets, ec.ECDSA(hash_cls()))
                    return True
            except InvalidSignature:
                continue
        raise Refused(403, "the signature of the AuthnRequest from %s does not verify "
                           "with the signing certificates in its metadata" % issuer)

    def new_state(self, state):
        now = time.time()
        for k in [k for k, v in self.states.items() if v["created"] < now - STATE_LIFETIME]:
            del self.states[k]
        state["created"] = now
        sid = secrets.token_urlsafe(24)
        self.states[sid] = state
        return sid

    def login(self, sid, username, password):
        """Returns (html, None) for the SP's form or (None, error) to show."""
        state = self.states.get(sid)
        if state is None:
            raise Refused(400, "unknown or expired AuthState")
        user = self.users.get(username)
        if user is None or not hmac.compare_digest(
                user["password"].encode("utf-8"), password.encode("utf-8")):
            return None, "Incorrect username or password."
        del self.states[sid]
        sp = self.sps.get(state["sp"])
        if sp is None:
            raise Refused(400, "service provider %r is no longer registered" % state["sp"])
        identity = {}
        for name, value in (("uid", user.get("uid")), ("email", user.get("email")),
                            ("givenName", user.get("givenName")), ("sn", user.get("sn"))):
            if value:
                identity[name] = [value]
        if user.get("groups"):
            identity["groups"] = list(user["groups"])
        resp = self.server.create_authn_response(
            identity,
            state["in_response_to"],
            state["destination"],
            state["sp"],
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"]),
            authn={"class_ref": AUTHN_PASSWORD, "authn_auth": self.entity_id},
            sign_response=True,
            # "sign_response_only": the Response signed as a whole, its
            # assertion unsigned (SAML profiles 4.1.3.5; Entra ID's "Sign
            # SAML response").
            sign_assertion=not sp.get("sign_response_only"),
            encrypt_assertion=bool(sp.get("encrypt_assertions")),
            sign_alg=xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA256,
        )
        http_args = self.server.apply_binding(
            BINDING_HTTP_POST, str(resp), state["destination"],
            state["relay_state"] or "", response=True)
        return http_args["data"], None


def page(title, body):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
            "<body>\n<h1>%s</h1>\n%s\n</body></html>\n"
            % (html.escape(title), html.escape(title), body))


def login_page(sid, sp, error=None):
    err = "<p class=\"error\">%s</p>\n" % html.escape(error) if error else ""
    return page("pysaml2 test IdP: sign in", (
        "<p>Sign in to continue to %s.</p>\n%s"
        "<form method=\"post\" action=\"/login\">\n"
        "<input type=\"hidden\" name=\"AuthState\" value=\"%s\">\n"
        "<label>Username <input type=\"text\" name=\"username\" autofocus></label>\n"
        "<label>Password <input type=\"password\" name=\"password\"></label>\n"
        "<button type=\"submit\">Sign in</button>\n</form>"
    ) % (html.escape(sp), err, html.escape(sid)))


class Handler(BaseHTTPRequestHandler):
    idp = None  # set in main
    server_version = "ssobroker-pysaml2-idp"

    def log_message(self, fmt, *args):
        log("pysaml2 IdP: %s %s" % (self.address_string(), fmt % args))

    def send(self, status, body, ctype="text/html; charset=utf-8", headers=()):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def redirect_to_login(self, sid):
        self.send(303, "", headers=[("Location", "/login?" + urllib.parse.urlencode(
            {"AuthState": sid}))])

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8") if n else ""
        return {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}

    def handle_any(self, method):
        idp = self.idp
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        route = (method, url.path)
        with idp.lock:
            try:
                idp.reload()
                if route == ("GET", "/metadata"):
                    return self.send(200, idp.metadata_xml, "application/samlmetadata+xml")
                if route == ("GET", "/sso/redirect"):
                    sid = idp.authn_request(BINDING_HTTP_REDIRECT, query.get("SAMLRequest"),
                                            query.get("RelayState"), url.query)
                    return self.redirect_to_login(sid)
                if route == ("POST", "/sso/post"):
                    f = self.form()
                    sid = idp.authn_request(BINDING_HTTP_POST, f.get("SAMLRequest"),
                                            f.get("RelayState"))
                    return self.redirect_to_login(sid)
                if route == ("GET", "/idp-initiated"):
                    sid = idp.idp_initiated(query.get("sp", ""), query.get("RelayState"))
                    return self.redirect_to_login(sid)
                if route == ("GET", "/login"):
                    sid = query.get("AuthState", "")
                    state = idp.states.get(sid)
                    if state is None:
                        raise Refused(400, "unknown or expired AuthState")
                    return self.send(200, login_page(sid, state["sp"]))
                if route == ("POST", "/login"):
                    f = self.form()
                    sid = f.get("AuthState", "")
                    state = idp.states.get(sid)
                    form, error = idp.login(sid, f.get("username", ""), f.get("password", ""))
                    if error:
                        return self.send(200, login_page(sid, state["sp"], error))
                    return self.send(200, form)
                raise Refused(404, "no such page: %s %s" % (method, url.path))
            except Refused as e:
                log("pysaml2 IdP: refused: %s" % e)
                return self.send(e.status, page("pysaml2 test IdP: error",
                                                "<p>%s</p>" % html.escape(str(e))))
            except Exception as e:
                log("pysaml2 IdP: internal error:\n" + traceback.format_exc())
                return self.send(500, page("pysaml2 test IdP: error",
                                           "<p>%s: %s</p>" % (html.escape(type(e).__name__),
                                                              html.escape(str(e)))))

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: pysaml2_idp.py SETTINGS.json")
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    if not settings.get("triple_des"):
        use_aes256_cbc()
    if not settings.get("generated_prefixes"):
        for prefix, uri in PREFIXES.items():
            ElementTree.register_namespace(prefix, uri)
    httpd = ThreadingHTTPServer(("127.0.0.1", int(settings.get("port", 0))), Handler)
    port = httpd.server_address[1]
    Handler.idp = IdP(settings, "http://127.0.0.1:%d" % port)
    print(json.dumps({"ready": True, "port": port}), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()

<?php

/*
 * The SimpleSAMLphp test IdP itself (e2e/peers/saml.go): its entity ID is its
 * metadata URL; key and certificate are generated per run into certdir.
 */

$ssobrokerHarness = json_decode(
    file_get_contents(dirname(__DIR__) . '/config/harness.json'),
    true,
    512,
    JSON_THROW_ON_ERROR
);

$metadata[$ssobrokerHarness['entityid']] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',

    // The metadata advertises both bindings (SSOService.php takes both; by
    // default only HTTP-Redirect is in the metadata).
    'SingleSignOnServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],

    // Single Logout on both bindings; logout messages are signed, and
    // those from SPs must be.
    'SingleLogoutServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],
    'sign.logout' => true,
    'validate.logout' => true,

    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,

    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'email',
];

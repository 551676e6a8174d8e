<?php

/*
 * The service providers of the SimpleSAMLphp test IdP (e2e/peers/saml.go).
 * AddSP rewrites sps.json (atomically) from each SP's metadata; this file is
 * read on every request, so a new SP takes effect for the next one.
 */

$ssobrokerSPs = json_decode(
    file_get_contents(__DIR__ . '/sps.json'),
    true,
    512,
    JSON_THROW_ON_ERROR
);

foreach ($ssobrokerSPs as $ssobrokerEntityID => $ssobrokerSP) {
    $metadata[$ssobrokerEntityID] = [
        // [['Binding' => …, 'Location' => …, 'index' => …], …]
        'AssertionConsumerService' => $ssobrokerSP['acs'],
        // Single Logout: the SP's endpoints from its metadata; every logout
        // message is signed and must be signed (saml20-idp-hosted.php).
        'SingleLogoutService' => $ssobrokerSP['slo'] ?? [],
        // [['type' => 'X509Certificate', 'X509Certificate' => …,
        //   'signing' => bool, 'encryption' => bool], …]
        'keys' => $ssobrokerSP['keys'],

        // Without these the SP gets a transient NameID.
        'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        'simplesaml.nameidattribute' => 'email',
        'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',

        'assertion.encryption' => $ssobrokerSP['encrypt_assertions'],
        'validate.authnrequest' => $ssobrokerSP['require_signed_requests'],
        // sign_response_only: the Response signed, its assertion not.
        'saml20.sign.response' => true,
        'saml20.sign.assertion' => !($ssobrokerSP['sign_response_only'] ?? false),
    ];
}

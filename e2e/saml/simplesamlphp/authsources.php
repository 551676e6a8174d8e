<?php

/*
 * Authentication sources of the SimpleSAMLphp test IdP (e2e/peers/saml.go):
 * one exampleauth:UserPass source with the users of harness.json.
 */

$ssobrokerHarness = json_decode(
    file_get_contents(__DIR__ . '/harness.json'),
    true,
    512,
    JSON_THROW_ON_ERROR
);

$ssobrokerUsers = ['exampleauth:UserPass'];
foreach ($ssobrokerHarness['users'] as $ssobrokerUser) {
    // 'username:password' => [attribute => [values…]]
    $ssobrokerUsers[$ssobrokerUser['username'] . ':' . $ssobrokerUser['password']] =
        $ssobrokerUser['attributes'];
}

$config = [
    'example-userpass' => $ssobrokerUsers,
];

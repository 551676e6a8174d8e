<?php

/*
 * SimpleSAMLphp configuration of the test IdP of ssobroker's end-to-end tests
 * (e2e/peers/saml.go, StartSimpleSAMLphp). The harness copies this file into a
 * per-run config directory (SIMPLESAMLPHP_CONFIG_DIR) next to harness.json,
 * which holds the values of the run; nothing under /etc is read but the
 * attribute name maps.
 */

$ssobrokerHarness = json_decode(
    file_get_contents(__DIR__ . '/harness.json'),
    true,
    512,
    JSON_THROW_ON_ERROR
);
$ssobrokerDir = $ssobrokerHarness['dir'];
$ssobrokerPort = $ssobrokerHarness['port'];

$config = [
    // Absolute: relative paths resolve under /usr/share/simplesamlphp.
    'baseurlpath' => $ssobrokerHarness['baseurl'] . '/',
    'certdir' => $ssobrokerDir . '/cert/',
    'loggingdir' => $ssobrokerDir . '/log/',
    'datadir' => $ssobrokerDir . '/data/',
    'tempdir' => $ssobrokerDir . '/tmp/',
    'metadatadir' => $ssobrokerDir . '/metadata/',
    'attributenamemapdir' => '/etc/simplesamlphp/attributemap/',

    'technicalcontact_name' => 'ssobroker tests',
    'technicalcontact_email' => 'tests@example.invalid',
    'timezone' => 'UTC',
    'secretsalt' => $ssobrokerHarness['secretsalt'],
    'auth.adminpassword' => $ssobrokerHarness['adminpassword'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    'debug' => [
        'saml' => false,
        'backtraces' => true,
        'validatexml' => false,
        'validatemetadata' => false,
    ],
    'showerrors' => true,
    'errorreporting' => false,
    'production' => true,

    'logging.level' => SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'stderr',
    'logging.processname' => 'simplesamlphp',

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,

    'assertion.allowed_clock_skew' => 180,

    // Plain HTTP on loopback: a secure cookie would be a critical
    // configuration error. Cookie names carry the port: cookies ignore
    // ports, and two IdPs of one test must not share a session.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.cookie.name' => 'SimpleSAMLSessionID' . $ssobrokerPort,
    'session.phpsession.cookiename' => 'SimpleSAML' . $ssobrokerPort,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken' . $ssobrokerPort,
    'session.phpsession.savepath' => $ssobrokerDir . '/sessions',
    'session.phpsession.httponly' => true,
    'language.cookie.name' => 'language' . $ssobrokerPort,
    'language.default' => 'en',

    'module.enable' => [
        'core' => true,
        'saml' => true,
        'exampleauth' => true,
        'admin' => false,
    ],

    'store.type' => 'phpsession',
    'metadata.sources' => [
        ['type' => 'flatfile'],
    ],
];

-- wrk script: POST /oauth2/token, grant client_credentials, client_secret_basic.
-- SSB_BASIC is base64("sa_…:ssb_…") as bench/token-load.sh exports it.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("SSB_BASIC")

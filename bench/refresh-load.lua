-- wrk script: POST grant_type=refresh_token, one token family per thread.
-- Every wrk thread rotates its own refresh-token family: thread N starts with
-- line N of $SSB_TOKENS and sends, each time, the token the last answer
-- returned (strict rotation: a token sent twice revokes its family). Run it
-- with one connection per thread (-c = -t) so a thread never has two
-- requests of one family in flight.
--   SSB_CLIENT_ID  a public client's id (sent in the body), or
--   SSB_AUTH       a confidential client's Authorization header (bench/report);
--   SSB_PATH       the token endpoint's path (default /oauth2/token).
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local i = 0
  for line in io.lines(os.getenv("SSB_TOKENS")) do
    i = i + 1
    if i == id then token = line end
  end
  if not token then error("no refresh token for thread " .. id) end
  client_id = os.getenv("SSB_CLIENT_ID")
  auth = os.getenv("SSB_AUTH")
  path = os.getenv("SSB_PATH") or "/oauth2/token"
  broken = 0
end

function request()
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  local body = "grant_type=refresh_token&refresh_token=" .. token
  if auth and auth ~= "" then
    headers["Authorization"] = auth
  else
    body = body .. "&client_id=" .. client_id
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 200 then
    local next = body:match('"refresh_token":"([^"]+)"')
    if next then token = next end
  else
    broken = broken + 1
  end
end

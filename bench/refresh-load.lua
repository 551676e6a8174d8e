-- wrk script: POST /oauth2/token grant_type=refresh_token as a public client.
-- Every wrk thread rotates its own refresh-token family: thread N starts with
-- line N of $SSB_TOKENS and sends, each time, the token the last answer
-- returned (strict rotation: a token sent twice revokes its family). Run it
-- with one connection per thread (-c = -t) so a thread never has two
-- requests of one family in flight.
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
  broken = 0
end

function request()
  return wrk.format("POST", "/oauth2/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    local next = body:match('"refresh_token":"([^"]+)"')
    if next then token = next end
  else
    broken = broken + 1
  end
end

#!/usr/bin/env bash
# Curl recipes for every procedure of the wxkit API. The README's "For testers" section shows the lines between
# the two markers below verbatim, and server/test/curl-recipes.test.ts runs this file against a real server.
# Usage: bash scripts/curl-recipes.sh [base-url]   (default http://127.0.0.1:3000; the server in simulator mode)
set -euo pipefail
B=${1:-http://127.0.0.1:3000}

# --- recipes: start ---
# Log in without WeChat: the simulator mints a one-time code for user "alice" (it stands in for wx.login) …
CODE=$(curl -s -X POST "$B/__wechat/dev/login" -H 'content-type: application/json' -d '{"user":"alice"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
# … and login exchanges it. A MUTATION is a POST with the JSON input as body (content-type is required).
LOGIN=$(curl -s -X POST "$B/trpc/login" -H 'content-type: application/json' -d "{\"code\":\"$CODE\"}")
echo "$LOGIN"   # {"result":{"data":{"token":"eyJ…","expiresAt":"…","isNewUser":true,"user":{…}}}}
TOKEN=$(echo "$LOGIN" | sed 's/.*"token":"\([^"]*\)".*/\1/')
AUTH="authorization: Bearer $TOKEN"

# A QUERY is a GET; without input there is nothing to add.
curl -s -w '\n' "$B/trpc/checkSession" -H "$AUTH"   # {"result":{"data":{"valid":true,"expiresAt":"…","userId":"…"}}}
curl -s -w '\n' "$B/trpc/getProfile" -H "$AUTH"     # {"result":{"data":{"id":"…","nickname":null,"avatarUrl":null,"createdAt":"…"}}}

# A mutation with input: the body is the input itself.
curl -s -w '\n' -X POST "$B/trpc/updateProfile" -H "$AUTH" -H 'content-type: application/json' \
  -d '{"nickname":"Alice","avatarUrl":"https://example.com/alice.png"}'

# A query's input goes in ?input=<url-encoded JSON>; curl -G --data-urlencode does the encoding.
# BATCHING: names joined by commas, batch=1, and inputs keyed by position ({} here: neither takes input).
curl -s -w '\n' -G "$B/trpc/getProfile,checkSession" --data-urlencode 'batch=1' --data-urlencode 'input={}' -H "$AUTH"
# [{"result":{"data":{…profile…}}},{"result":{"data":{"valid":true,…}}}]   one envelope per call, in order
# Mutations batch the same way, as a POST whose body holds the inputs by position.
curl -s -w '\n' -X POST "$B/trpc/updateProfile,updateProfile?batch=1" -H "$AUTH" -H 'content-type: application/json' \
  -d '{"0":{"nickname":"Al"},"1":{"nickname":""}}'
# [{"result":{"data":{…"nickname":"Al"…}}},{"error":{…"reason":"invalid_input"…}}]   each call succeeds or fails alone

# ERRORS: an HTTP status plus {"error":{"message","code","data":{"code","httpStatus","path","reason"}}}.
# Switch on data.reason (a literal); the message says what to do next.
curl -s -w '\n' "$B/trpc/getProfile"   # {"error":{"message":"Not logged in: …","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401,"path":"getProfile","reason":"missing"}}}
curl -s -o /dev/null -w '%{http_code}\n' "$B/trpc/getProfile"   # 401
curl -s -w '\n' -X POST "$B/trpc/login" -H 'content-type: application/json' -d '{"code":"not-a-code"}' \
  | sed 's/.*"reason":"\([^"]*\)".*/\1/'   # code_invalid

# logout revokes the session: the same token is refused from then on.
curl -s -w '\n' -X POST "$B/trpc/logout" -H "$AUTH" -H 'content-type: application/json' -d '{}'   # {"result":{"data":{"ok":true}}}
curl -s -w '\n' "$B/trpc/checkSession" -H "$AUTH"   # {"result":{"data":{"valid":false,"reason":"revoked"}}}
curl -s -w '\n' "$B/trpc/getProfile" -H "$AUTH"     # {"error":{…"code":"UNAUTHORIZED","httpStatus":401,…"reason":"revoked"}}}
# --- recipes: end ---

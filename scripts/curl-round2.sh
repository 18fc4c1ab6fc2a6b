#!/usr/bin/env bash
# Curl recipes for accounts and binding, the phone number and WeRun (round 2). The README shows the lines between
# the two markers below verbatim, and server/test/curl-recipes.test.ts runs this file against a real server.
# Usage: bash scripts/curl-round2.sh [base-url]   (default http://127.0.0.1:3000; simulator mode; a fresh database,
# or pick another username than shop.bob)
set -euo pipefail
B=${1:-http://127.0.0.1:3000}

# --- recipes: start ---
J='content-type: application/json'
token() { sed 's/.*"token":"\([^"]*\)".*/\1/'; }
# ACCOUNTS. signUp makes a user with a username and password and no WeChat; it answers like login (a token).
curl -s -w '\n' -X POST "$B/trpc/signUp" -H "$J" -d '{"username":"shop.bob","password":"correct horse"}'   # …"isNewUser":true,"user":{…"username":"shop.bob","wechatBound":false…
# loginWithPassword: the username in any case. A wrong password is 401 credentials_invalid, the same as an unknown
# username; 5 failures within 15 minutes from one address lock that username for 15 minutes (429 too_many_attempts).
curl -s -w '\n' -X POST "$B/trpc/loginWithPassword" -H "$J" -d '{"username":"Shop.Bob","password":"correct horse"}'   # …"isNewUser":false…
curl -s -w '\n' -X POST "$B/trpc/loginWithPassword" -H "$J" -d '{"username":"shop.bob","password":"not it"}' | sed 's/.*"reason":"\([^"]*\)".*/\1/'   # credentials_invalid
# BINDING. Simulated WeChat user "carol" logs in silently (a WeChat-only user) …
CODE=$(curl -s -X POST "$B/__wechat/dev/login" -H "$J" -d '{"user":"carol"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
WX=$(curl -s -X POST "$B/trpc/login" -H "$J" -d "{\"code\":\"$CODE\"}" | token)
# … and binds to the account: the answer is a token for shop.bob; carol's WeChat-only user is deleted.
BOUND=$(curl -s -X POST "$B/trpc/bindAccount" -H "authorization: Bearer $WX" -H "$J" -d '{"username":"shop.bob","password":"correct horse"}')
echo "$BOUND"   # {"result":{"data":{"token":"…","expiresAt":"…","user":{…"username":"shop.bob","wechatBound":true…}}}}
AUTH="authorization: Bearer $(echo "$BOUND" | token)"
# From now on carol's silent logins land on shop.bob.
CODE=$(curl -s -X POST "$B/__wechat/dev/login" -H "$J" -d '{"user":"carol"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
curl -s -w '\n' -X POST "$B/trpc/login" -H "$J" -d "{\"code\":\"$CODE\"}"   # …"isNewUser":false,"user":{…"username":"shop.bob","wechatBound":true…
# PHONE. The simulator mints the code <Button openType="getPhoneNumber"> would give carol; bindPhone answers it masked.
PHONE=$(curl -s -X POST "$B/__wechat/dev/phone-code" -H "$J" -d '{"user":"carol","phone":"13800138000"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
curl -s -w '\n' -X POST "$B/trpc/bindPhone" -H "$AUTH" -H "$J" -d "{\"code\":\"$PHONE\"}"   # …"phone":"138****8000"…
# WERUN. The simulator encrypts steps with carol's latest session_key, exactly as wx.getWeRunData hands them out.
RUN=$(curl -s -X POST "$B/__wechat/dev/werun" -H "$J" -d '{"user":"carol","days":[{"date":"2026-12-01","steps":8000},{"date":"2026-12-02","steps":12000}]}')
curl -s -w '\n' -X POST "$B/trpc/syncWeRun" -H "$AUTH" -H "$J" -d "$RUN"   # {"result":{"data":{"days":2,"latest":{"date":"2026-12-02","steps":12000}}}}
curl -s -w '\n' "$B/trpc/getWeRun" -H "$AUTH"   # {"result":{"data":{"days":[{"date":"2026-12-02","steps":12000},{"date":"2026-12-01","steps":8000}]}}}
# changePassword needs an account (a WeChat-only user gets 403 account_required); other sessions are revoked.
curl -s -w '\n' -X POST "$B/trpc/changePassword" -H "$AUTH" -H "$J" -d '{"currentPassword":"correct horse","newPassword":"battery staple"}'   # {"result":{"data":{"ok":true}}}
# unbindWechat: carol's next silent login makes a new WeChat-only user; a WeChat-only user gets 400 last_login_method.
curl -s -w '\n' -X POST "$B/trpc/unbindWechat" -H "$AUTH" -H "$J" -d '{}'   # …"username":"shop.bob","wechatBound":false…
# --- recipes: end ---

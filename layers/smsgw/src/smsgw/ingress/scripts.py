"""Lua scripts that ingress runs in Redis (atomic, one round trip each).

ADMIT does authentication, idempotency, provider checks and the quota in one call,
so that N parallel requests with one Idempotency-Key cannot both pass, and the quota
cannot be overspent by a race. Keys are built inside the script from the prefix and
the client id it finds, which needs Redis without cluster mode (ElastiCache with
cluster mode disabled, as in infra/terraform).

Replies are arrays whose first element is a verdict:
  AUTH_MISS                     the API-key hash is not cached: load it, then call again
  UNAUTHORIZED                  known-unknown key, or inactive client
  OK, client[, used]            admitted (in mode "auth": authenticated only); the
                                accepted-message marker is written with the claim
  REPLAY, client, stored        the Idempotency-Key's stored 2xx response
  IDEM_REUSED, client           same key, different body
  IDEM_IN_PROGRESS, client      same key, first request still in flight
  REGISTRY_MISS, client         no provider registry in Redis: rebuild it, call again
  UNKNOWN_PROVIDER, client, names-json
  PROVIDER_DISABLED, client     the one requested provider is disabled or its circuit open
  ALL_PROVIDERS_DISABLED, client
  NO_PROVIDER_AVAILABLE, client smart selection and nothing usable
  QUOTA, client, used           the segments would exceed the daily quota
"""

ADMIT = r"""
local prefix = ARGV[1]
local rec = redis.call('GET', prefix .. ':apikey:' .. ARGV[2])
if not rec then return {'AUTH_MISS'} end
if rec == '-' then return {'UNAUTHORIZED'} end
local client = cjson.decode(rec)
if client.active ~= true then return {'UNAUTHORIZED'} end
if ARGV[3] == 'auth' then return {'OK', rec} end

local cid = client.id
local idem_key = false
if ARGV[4] ~= '' then
  idem_key = prefix .. ':idem:' .. cid .. ':' .. ARGV[4]
  local existing = redis.call('GET', idem_key)
  if existing then
    local entry = cjson.decode(existing)
    if entry.fp ~= ARGV[5] then return {'IDEM_REUSED', rec} end
    if entry.state ~= 'done' then return {'IDEM_IN_PROGRESS', rec} end
    return {'REPLAY', rec, existing}
  end
end

local registry = prefix .. ':providers'
if redis.call('EXISTS', registry) == 0 then return {'REGISTRY_MISS', rec} end
local function usable(raw, name)
  local p = cjson.decode(raw)
  return p.enabled == true
    and redis.call('EXISTS', prefix .. ':circuit:' .. name .. ':open') == 0
end
local requested = cjson.decode(ARGV[6])
if #requested == 0 then
  local all = redis.call('HGETALL', registry)
  local found = false
  for i = 1, #all, 2 do
    if all[i] ~= '__registry__' and usable(all[i + 1], all[i]) then
      found = true
      break
    end
  end
  if not found then return {'NO_PROVIDER_AVAILABLE', rec} end
else
  local entries = redis.call('HMGET', registry, unpack(requested))
  local unknown = {}
  local ok = 0
  for i, name in ipairs(requested) do
    local raw = entries[i]
    if not raw or name == '__registry__' then
      table.insert(unknown, name)
    elseif usable(raw, name) then
      ok = ok + 1
    end
  end
  if #unknown > 0 then return {'UNKNOWN_PROVIDER', rec, cjson.encode(unknown)} end
  if ok == 0 then
    if #requested == 1 then return {'PROVIDER_DISABLED', rec} end
    return {'ALL_PROVIDERS_DISABLED', rec}
  end
end

local qkey = prefix .. ':quota:' .. cid .. ':' .. ARGV[8]
local segments = tonumber(ARGV[7])
local used = tonumber(redis.call('GET', qkey) or '0')
if used + segments > tonumber(client.daily_quota) then
  return {'QUOTA', rec, tostring(used)}
end
used = redis.call('INCRBY', qkey, segments)
redis.call('EXPIRE', qkey, tonumber(ARGV[9]))
if idem_key then
  redis.call('SET', idem_key, cjson.encode({state = 'pending', fp = ARGV[5]}),
             'EX', tonumber(ARGV[10]))
end
redis.call('SET', prefix .. ':accepted:' .. ARGV[11], cid .. '|' .. ARGV[12],
           'EX', tonumber(ARGV[13]))
return {'OK', rec, tostring(used)}
"""

# Undo an admission whose request failed afterwards (SQS down): give the segments
# back and release the Idempotency-Key, but only if it is still our pending claim.
# KEYS: quota key, idempotency key (or "" when none), accepted-message marker.
# ARGV: segments, fingerprint.
RELEASE = r"""
redis.call('DEL', KEYS[3])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local give = math.min(used, tonumber(ARGV[1]))
if give > 0 then redis.call('DECRBY', KEYS[1], give) end
if KEYS[2] ~= '' then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    local entry = cjson.decode(existing)
    if entry.state == 'pending' and entry.fp == ARGV[2] then redis.call('DEL', KEYS[2]) end
  end
end
return give
"""

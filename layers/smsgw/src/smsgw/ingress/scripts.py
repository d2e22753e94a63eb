"""Lua scripts that ingress runs in Redis (atomic, one round trip each).

ADMIT does idempotency, provider checks and the quota in one call, after checking
the client's cached record (``smsgw.auth``), so that N parallel requests with one
Idempotency-Key cannot both pass, and the quota cannot be overspent by a race.

Every key it touches comes from ``smsgw.redis_store.Keys``: the fixed ones as KEYS,
and the circuit-open keys of the providers it finds in the registry (names known only
inside the script) as that layout's head and tail in ARGV. Those keys are undeclared,
which needs Redis without cluster mode (ElastiCache with cluster mode disabled, as in
infra/terraform).

KEYS: 1 the API key's cached record, 2 the provider registry, 3 the day's quota
counter, 4 the accepted-message marker, 5 (only with an Idempotency-Key) its entry.
ARGV: 1 the client id the caller expects the record to name, 2 the body's
fingerprint, 3 requested providers (JSON list), 4 segments, 5 quota counter TTL,
6 idempotency entry TTL (a pending claim lives as long as a stored answer), 7 the
202 body (kept as the "queued" view until dispatch stores the message), 8 its TTL,
9 and 10 head and tail of a circuit-open key, 11 the registry's marker field, 12 after
how many seconds a pending claim may be taken over, 13 this request's tracking id (the
message's, unless it takes over).

A pending Idempotency-Key entry holds the claim's message: ``tid`` (its tracking id),
``body`` (its 202 answer), ``at`` (when it was claimed or last taken over) and
``owner`` (the tracking id of the request that holds it). A request whose caller gave
up before the message was queued (a timeout, a crash) leaves it pending; a retry with
the same key and body after ``takeover`` seconds takes it over: it queues the SAME
message (same tracking id; dispatch stores each tracking id once, so a first request
that did queue it after all causes no second SMS), answers its 202 and counts no
quota again, since the first admission already did.

Replies are arrays whose first element is a verdict:
  AUTH_MISS                     no cached record (or one of another client): refill it,
                                then call again
  UNAUTHORIZED                  known-unknown key, or inactive client
  OK, client, used              admitted; the accepted-message marker is written with
                                the claim
  REPLAY, client, stored        the Idempotency-Key's stored 2xx response
  IDEM_REUSED, client           same key, different body
  IDEM_IN_PROGRESS, client      same key, first request still in flight
  TAKEOVER, client, tid, body   same key, a pending claim older than ARGV[12]: queue
                                message ``tid`` and answer ``body``
  REGISTRY_MISS, client         no provider registry in Redis: rebuild it, call again
  UNKNOWN_PROVIDER, client, names-json
  PROVIDER_DISABLED, client     the one requested provider is disabled or its circuit open
  ALL_PROVIDERS_DISABLED, client
  NO_PROVIDER_AVAILABLE, client smart selection and nothing usable
  QUOTA, client, used           the segments would exceed the daily quota
"""

ADMIT = r"""
local rec = redis.call('GET', KEYS[1])
if not rec then return {'AUTH_MISS'} end
if rec == '-' then return {'UNAUTHORIZED'} end
local client = cjson.decode(rec)
if client.id ~= ARGV[1] then return {'AUTH_MISS'} end
if client.active ~= true then return {'UNAUTHORIZED'} end

local now = tonumber(redis.call('TIME')[1])
local idem_key = KEYS[5]
if idem_key then
  local existing = redis.call('GET', idem_key)
  if existing then
    local entry = cjson.decode(existing)
    if entry.fp ~= ARGV[2] then return {'IDEM_REUSED', rec} end
    if entry.state == 'done' then return {'REPLAY', rec, existing} end
    if not entry.tid or now - tonumber(entry.at or now) < tonumber(ARGV[12]) then
      return {'IDEM_IN_PROGRESS', rec}
    end
    entry.at = now
    entry.owner = ARGV[13]
    redis.call('SET', idem_key, cjson.encode(entry), 'EX', tonumber(ARGV[6]))
    return {'TAKEOVER', rec, entry.tid, entry.body}
  end
end

local registry = KEYS[2]
local marker = ARGV[11]
if redis.call('EXISTS', registry) == 0 then return {'REGISTRY_MISS', rec} end
local function usable(raw, name)
  local p = cjson.decode(raw)
  return p.enabled == true and redis.call('EXISTS', ARGV[9] .. name .. ARGV[10]) == 0
end
local requested = cjson.decode(ARGV[3])
if #requested == 0 then
  local all = redis.call('HGETALL', registry)
  local found = false
  for i = 1, #all, 2 do
    if all[i] ~= marker and usable(all[i + 1], all[i]) then
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
    if not raw or name == marker then
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

local segments = tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
if used + segments > tonumber(client.daily_quota) then
  return {'QUOTA', rec, tostring(used)}
end
used = redis.call('INCRBY', KEYS[3], segments)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
if idem_key then
  local entry = {state = 'pending', fp = ARGV[2], tid = ARGV[13], body = ARGV[7],
                 at = now, owner = ARGV[13]}
  redis.call('SET', idem_key, cjson.encode(entry), 'EX', tonumber(ARGV[6]))
end
redis.call('SET', KEYS[4], client.id .. '|' .. ARGV[7], 'EX', tonumber(ARGV[8]))
return {'OK', rec, tostring(used)}
"""

# Undo an admission whose request failed afterwards (SQS down), or may have landed
# after its caller gave up (a Redis timeout): give the segments back and release the
# Idempotency-Key, but only if the admission did land (its accepted-message marker
# exists) and the key is still this request's pending claim (not stored as done, not
# taken over by a retry). Safe to send whatever happened: it undoes nothing twice.
# KEYS: quota key, idempotency key (or "" when none), the message's accepted marker.
# ARGV: segments, fingerprint, this request's tracking id (the claim's owner).
RELEASE = r"""
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if KEYS[2] ~= '' then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    local entry = cjson.decode(existing)
    if entry.state ~= 'pending' or entry.fp ~= ARGV[2] or entry.owner ~= ARGV[3] then
      return 0
    end
    redis.call('DEL', KEYS[2])
  end
end
redis.call('DEL', KEYS[3])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local give = math.min(used, tonumber(ARGV[1]))
if give > 0 then redis.call('DECRBY', KEYS[1], give) end
return give
"""

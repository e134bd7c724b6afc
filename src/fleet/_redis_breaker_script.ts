/**
 * The Lua script of `redisStore().circuitBreaker`: one atomic step of a fleet
 * breaker on one hash (see `FleetBreakerRequest` in `store.ts`). Fields:
 * `gen`, `state`, `openUntil`, `openings`, `isolations`, `probes` (the grant
 * times of the probes in flight, comma-separated), `ps` (successful probes),
 * `c:<slot>` and `f:<slot>` (the failure window), `i|<instance>` (an
 * instance's latest failure). Internal.
 *
 * @module
 */

import { NOW, WINDOW } from "./_redis_scripts.ts";

/**
 * KEYS[1]: the hash. ARGV: instance, calls, failures, command, probe,
 * windowMs, buckets, threshold, minimumCalls, minInstances, openMs,
 * maxProbes, successes, probeTimeoutMs. Returns {gen, state, retryAfterMs,
 * openings, probe (0 or 1)}.
 */
export const BREAKER_SCRIPT = `${NOW}${WINDOW}
local key = KEYS[1]
local instance = ARGV[1]
local calls = tonumber(ARGV[2])
local failures = tonumber(ARGV[3])
local command = ARGV[4]
local probe = ARGV[5]
local windowMs = tonumber(ARGV[6])
local buckets = tonumber(ARGV[7])
local threshold = tonumber(ARGV[8])
local minimumCalls = tonumber(ARGV[9])
local minInstances = tonumber(ARGV[10])
local openMs = tonumber(ARGV[11])
local maxProbes = tonumber(ARGV[12])
local successes = tonumber(ARGV[13])
local probeTimeout = tonumber(ARGV[14])

local h = redis.call('HMGET', key, 'gen', 'state', 'openUntil', 'openings', 'isolations', 'probes', 'ps')
local gen = tonumber(h[1]) or 0
local state = h[2] or 'closed'
local openUntil = tonumber(h[3]) or 0
local openings = tonumber(h[4]) or 0
local isolations = tonumber(h[5]) or 0
local probes = {}
if h[6] then
  for t in string.gmatch(h[6], '[^,]+') do probes[#probes + 1] = tonumber(t) end
end
local ps = tonumber(h[7]) or 0

local function forget()
  local del = {}
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.find(f, ':', 1, true) or string.sub(f, 1, 2) == 'i|' then del[#del + 1] = f end
  end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
end
local function close()
  gen = gen + 1
  state = 'closed'
  openings = 0
  isolations = 0
  probes = {}
  ps = 0
  forget()
end
local function open()
  gen = gen + 1
  state = 'open'
  openings = openings + 1
  openUntil = now + openMs
  probes = {}
  ps = 0
end

if command == 'isolate' then
  isolations = isolations + 1
  if state ~= 'isolated' then
    gen = gen + 1
    state = 'isolated'
    probes = {}
    ps = 0
  end
elseif command == 'release' then
  if isolations > 0 then isolations = isolations - 1 end
  if isolations == 0 and state == 'isolated' then close() end
elseif command == 'reset' then
  close()
end

if state == 'closed' and calls > 0 then
  local slot = math.floor(now / (windowMs / buckets))
  local sums = window(key, slot, buckets)
  local s = string.format('%d', slot)
  redis.call('HINCRBY', key, 'c:' .. s, calls)
  if failures > 0 then
    redis.call('HINCRBY', key, 'f:' .. s, failures)
    redis.call('HSET', key, 'i|' .. instance, string.format('%.3f', now))
  end
  local total = (sums['c'] or 0) + calls
  local failed = (sums['f'] or 0) + failures
  if failures > 0 and total >= minimumCalls and failed >= threshold * total then
    local n = 0
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'i|' then
        if tonumber(all[i + 1]) > now - windowMs then
          n = n + 1
        else
          redis.call('HDEL', key, all[i])
        end
      end
    end
    if n >= minInstances then
      open()
      forget()
    end
  end
end

local live = {}
for _, t in ipairs(probes) do
  if t > now - probeTimeout then live[#live + 1] = t end
end
probes = live
local granted = 0
if state == 'open' and now >= openUntil then
  if probe == 'take' and #probes < maxProbes then
    probes[#probes + 1] = now
    granted = 1
  elseif probe == 'success' then
    table.remove(probes, 1)
    ps = ps + 1
    if ps >= successes then close() end
  elseif probe == 'failure' then
    open()
  end
end

local list = {}
for i, t in ipairs(probes) do list[i] = string.format('%.3f', t) end
redis.call('HSET', key, 'gen', gen, 'state', state, 'openUntil', string.format('%.3f', openUntil),
  'openings', openings, 'isolations', isolations, 'probes', table.concat(list, ','), 'ps', ps)
local ttl = 2 * windowMs
if state == 'open' and openUntil - now + 2 * windowMs > ttl then ttl = openUntil - now + 2 * windowMs end
if state == 'isolated' and ttl < 86400000 then ttl = 86400000 end
redis.call('PEXPIRE', key, math.ceil(ttl))

local out = state
local retry = 0
if state == 'open' then
  if now >= openUntil then out = 'half_open' else retry = openUntil - now end
end
return {gen, out, string.format('%.3f', retry), openings, granted}
`;

/**
 * The Lua scripts of `redisStore()`: one per fleet policy, each one atomic
 * step on one key (see the request types in `store.ts` for what each does),
 * timed by the server's `TIME`, with a TTL on every key it writes. Internal.
 *
 * @module
 */

/** Reads the server's time in ms into `now`; lets a script write after TIME on old servers. */
export const NOW = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;

/** KEYS[1]: the TAT. ARGV: intervalMs, burst, want, charge. Returns {granted, waitMs}. */
export const RATE_SCRIPT = `${NOW}
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local charge = tonumber(ARGV[4])
local tol = (burst - 1) * interval
local tat = now
local v = redis.call('GET', KEYS[1])
if v then tat = tonumber(v) or now end
if tat < now then tat = now end
tat = tat + charge * interval
if tat < now then tat = now end
local room = math.floor((now + tol - tat) / interval + 1e-9) + 1
if room < 0 then room = 0 end
local granted = want
if room < granted then granted = room end
tat = tat + granted * interval
local wait = 0
if granted < want then
  wait = tat - now - tol
  if wait < 0 then wait = 0 end
end
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
return {granted, string.format('%.3f', wait)}
`;

/** Sums a window hash (fields "<p>:<slot>"), dropping stale slots: returns the sums by prefix. */
export const WINDOW = `
local function window(key, slot, buckets)
  local all = redis.call('HGETALL', key)
  local sums = {}
  local stale = {}
  for i = 1, #all, 2 do
    local f = all[i]
    local at = string.find(f, ':', 1, true)
    local s = at and tonumber(string.sub(f, at + 1))
    if s then
      if s <= slot - buckets then
        stale[#stale + 1] = f
      else
        local p = string.sub(f, 1, at - 1)
        sums[p] = (sums[p] or 0) + tonumber(all[i + 1])
      end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return sums
end
`;

/**
 * KEYS[1]: the window. ARGV: windowMs, buckets, ratio, floor, calls, charge,
 * returned, want. Returns {granted, available}.
 */
export const BUDGET_SCRIPT = `${NOW}${WINDOW}
local windowMs = tonumber(ARGV[1])
local buckets = tonumber(ARGV[2])
local ratio = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local calls = tonumber(ARGV[5])
local retried = tonumber(ARGV[6]) - tonumber(ARGV[7])
local want = tonumber(ARGV[8])
local slot = math.floor(now / (windowMs / buckets))
local sums = window(KEYS[1], slot, buckets)
local total = (sums['c'] or 0) + calls
local retries = (sums['r'] or 0) + retried
if retries < 0 then retries = 0 end
local room = math.floor(ratio * total + floor - retries + 1e-9)
local granted = want
if math.ceil(room / 2) < granted then granted = math.ceil(room / 2) end
if granted < 0 then granted = 0 end
if calls ~= 0 then redis.call('HINCRBY', KEYS[1], 'c:' .. string.format('%d', slot), calls) end
if retried + granted ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'r:' .. string.format('%d', slot), retried + granted)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(2 * windowMs))
local available = room - granted
if available < 0 then available = 0 end
return {granted, available}
`;

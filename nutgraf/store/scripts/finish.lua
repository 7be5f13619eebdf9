-- finish: end a job exactly once (succeeded, failed or cancelled): its result fields, the
-- cache entry, counters, the batches that watch it, its callback and a wake-up for the
-- requests waiting on it. A cancel ends a queued or a running job: the worker running it
-- sees the status between decoding steps and stops that job's generation.
-- needs: batch_items_ended.lua
-- needs: lane_leave.lua
--
-- KEYS[1] job             <prefix>:job:<id>
-- KEYS[2] text            <prefix>:text:<id>
-- KEYS[3] running_jobs    <prefix>:running:jobs
-- KEYS[4] queued          <prefix>:queued
-- KEYS[5] stats_jobs      <prefix>:stats:jobs
-- KEYS[6] webhooks_due    <prefix>:webhooks:due
-- KEYS[7] watchers        <prefix>:watchers:<id>
-- ARGV[1] prefix          '<prefix>:', for cache:, inflight:, batch: and events: names
-- ARGV[2] job_id          the job's id
-- ARGV[3] status          succeeded, failed or cancelled
-- ARGV[4] fields          JSON list [field, value ...] to set on the record
-- ARGV[5] digest          the cache key to store the result under, or '' (no caching)
-- ARGV[6] cached          the cache entry: JSON list [field, value ...], with digest
-- ARGV[7] cache_ttl_s     the cache TTL
-- ARGV[8] cancel          '1': a client's cancel (or a newer revision's): a job that
--                         has ended already is no duplicate
-- ARGV[9] now             epoch seconds: when the callbacks are due
-- ARGV[10] completed_at   RFC 3339: a batch's end, when this was its last item
-- ARGV[11] token          this call's own: a retry of the call (its reply was lost to a
--                         restart or the network) finds its own end and is not counted
-- Returns {'done', status, <ids of batches that ended>...} ({'done', status} to a retry
-- of a call that ended it), {'ended', status} (it had already) or {'missing'}.
local job_key, text_key, running_jobs, queued = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local stats_jobs, webhooks_due, watchers_key = KEYS[5], KEYS[6], KEYS[7]
local prefix, job, status = ARGV[1], ARGV[2], ARGV[3]
local current = redis.call('HGET', job_key, 'status')
if not current then return {'missing'} end
if current == 'succeeded' or current == 'failed' or current == 'cancelled' then
  if redis.call('HGET', job_key, 'end_token') == ARGV[11] then return {'done', current} end
  -- A second end of one job: a run that should not have happened. Counted, never applied.
  -- A run that ends after its job was cancelled is expected: the cancel won.
  if ARGV[8] ~= '1' and current ~= 'cancelled' then
    redis.call('HINCRBY', stats_jobs, 'duplicate_ends', 1)
  end
  return {'ended', current}
end
redis.call('HSET', job_key, 'status', status, 'end_token', ARGV[11], unpack(cjson.decode(ARGV[4])))
redis.call('DEL', text_key)
redis.call('SREM', running_jobs, job)
redis.call('SREM', queued, job)
lane_leave(prefix, job, redis.call('HGET', job_key, 'owner') or '')
redis.call('HINCRBY', stats_jobs, status, 1)
if ARGV[5] ~= '' then
  local cache = prefix .. 'cache:' .. ARGV[5]
  redis.call('HSET', cache, unpack(cjson.decode(ARGV[6])))
  redis.call('EXPIRE', cache, tonumber(ARGV[7]))
end
local digest = redis.call('HGET', job_key, 'cache_key')
if digest then
  -- The in-flight name is per owner when the job has one (keys.py's owned_inflight).
  local owner = redis.call('HGET', job_key, 'owner') or ''
  local inflight = prefix .. 'inflight:' .. digest
  if owner ~= '' then inflight = inflight .. ':' .. owner end
  if redis.call('GET', inflight) == job then redis.call('DEL', inflight) end
end
local now = tonumber(ARGV[9])
local url = redis.call('HGET', job_key, 'callback_url')
if url and url ~= '' then
  redis.call('HSET', job_key, 'callback_state', 'pending')
  redis.call('ZADD', webhooks_due, now, 'job:' .. job)
end
local ended = {'done', status}
local watchers = redis.call('HGETALL', watchers_key)
for i = 1, #watchers, 2 do
  if batch_items_ended(prefix, watchers[i], status, tonumber(watchers[i + 1]), now, ARGV[10]) then
    table.insert(ended, watchers[i])
  end
end
redis.call('DEL', watchers_key)
redis.call('PUBLISH', prefix .. 'events:job:' .. job, status)
return ended

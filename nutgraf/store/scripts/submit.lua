-- submit: a cache hit, a job already in flight for the same input, or a new job.
-- Doing all three in one step means two identical POSTs can never both enqueue. A batch
-- watching the job is recorded in the same step, so that it cannot miss the job's end.
-- Only new work is refused when the queue is full; a cache hit is one round trip.
-- A job in flight is joined only by its own owner (the digest of the API key that created
-- it, '' without keys), so no caller can cancel, or set the callback of, another's job.
-- Jobs.submit tries submit_cached.lua first; the cache is read again here, as a result may
-- have been stored in between.
-- needs: answer_from_cache.lua
-- A new job joins its lane: an interactive one is sent to the broker by the caller at once
-- (lane:interactive:sent); a bulk one waits in its owner's list for dispatch_bulk.lua.
--
-- KEYS[1] cache         <prefix>:cache:<digest>: the cached result, if any
-- KEYS[2] inflight      <prefix>:inflight:<digest>: the job computing it, if any (with
--                       an owner, that owner's own name: keys.py's owned_inflight)
-- KEYS[3] job           <prefix>:job:<id>: the new job's record
-- KEYS[4] text          <prefix>:text:<id>: the new job's article
-- KEYS[5] queued        <prefix>:queued
-- KEYS[6] webhooks_due  <prefix>:webhooks:due
-- KEYS[7] stats_cache   <prefix>:stats:cache
-- ARGV[1] job_id        the new job's id
-- ARGV[2] ttl_s         the job TTL
-- ARGV[3] prefix        '<prefix>:', for the keys of the job in flight (job:, watchers:)
-- ARGV[4] article       the article
-- ARGV[5] record        the new job's record: a JSON list [field, value, field, value ...]
-- ARGV[6] batch_id      the batch that counts this job's end, or ''
-- ARGV[7] callback_url  the job's callback URL, or ''
-- ARGV[8] completed_at  RFC 3339: the end of a job answered from the cache
-- ARGV[9] now           epoch seconds: when a cache hit's callback is due
-- ARGV[10] max_queue    refuse new work while this many jobs are queued; 0: never
-- ARGV[11] owner        the caller: the job in flight is joined only if it is its owner's
-- ARGV[12] lane         interactive or bulk
-- Returns {'cached', id, result, model}, {'created', id}, {'existing', id} or
-- {'overloaded', ''}.
local cache, inflight, job_key, text_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local queued, webhooks_due, stats_cache = KEYS[5], KEYS[6], KEYS[7]
local job, ttl, prefix, callback_url = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[7]
local hit = answer_from_cache(cache, job_key, job, ARGV[5], ttl, ARGV[8], callback_url,
                              ARGV[9], webhooks_due, stats_cache)
if hit then return hit end
local current = redis.call('GET', inflight)
local status = current and redis.call('HGET', prefix .. 'job:' .. current, 'status')
local joinable = status == 'queued' or status == 'running'
if joinable then
  -- A record from before owners has none: it counts as '', the owner without keys.
  local owner = redis.call('HGET', prefix .. 'job:' .. current, 'owner') or ''
  joinable = owner == ARGV[11]
end
if joinable and callback_url ~= '' then
  -- A job in flight is shared only if it has no callback, or the same one.
  local callback = redis.call('HGET', prefix .. 'job:' .. current, 'callback_url')
  if callback and callback ~= '' and callback ~= callback_url then
    joinable = false
  else
    redis.call('HSET', prefix .. 'job:' .. current, 'callback_url', callback_url)
  end
end
if joinable then
  job = current
else
  local limit = tonumber(ARGV[10])
  local waiting = redis.call('SCARD', queued) + redis.call('ZCARD', prefix .. 'lane:bulk:pending')
  if limit > 0 and waiting >= limit then
    return {'overloaded', ''}
  end
  redis.call('SET', inflight, job, 'EX', ttl)
  redis.call('SET', text_key, ARGV[4], 'EX', ttl)
  redis.call('HSET', job_key, unpack(cjson.decode(ARGV[5])))
  redis.call('EXPIRE', job_key, ttl)
  local order = redis.call('INCR', prefix .. 'lane:seq')
  if ARGV[12] == 'bulk' then
    redis.call('ZADD', prefix .. 'lane:bulk:pending', order, job)
    local list = prefix .. 'lane:bulk:owner:' .. ARGV[11]
    -- An owner is in `turns` exactly while its list holds jobs.
    if redis.call('RPUSH', list, job) == 1 then
      redis.call('RPUSH', prefix .. 'lane:bulk:turns', ARGV[11])
    end
  else
    redis.call('SADD', queued, job)
    redis.call('ZADD', prefix .. 'lane:interactive:sent', order, job)
  end
end
if ARGV[6] ~= '' then
  local watchers = prefix .. 'watchers:' .. job
  redis.call('HINCRBY', watchers, ARGV[6], 1)
  redis.call('EXPIRE', watchers, ttl)
end
if job == ARGV[1] then return {'created', job} end
return {'existing', job}

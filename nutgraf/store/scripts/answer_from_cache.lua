-- library: answer_from_cache(cache, job_key, job, record, ttl, completed_at, callback_url,
--                            now, webhooks_due, stats_cache)
-- When `cache` holds a result, answer a submission from it: the job's record points at the
-- entry (its cache_key field) instead of copying the result in, and the entry is kept at
-- least as long as the record. read_job.lua puts the two together again. Returns
-- {'cached', job, result, model}, or nil when the cache has no result.
-- Scripts that call it say `-- needs: answer_from_cache.lua`. Keys used: those passed.
--   cache         <prefix>:cache:<digest>
--   job_key       <prefix>:job:<id>: the new job's record
--   job           the new job's id
--   record        its fields: a JSON list [field, value, field, value ...]
--   ttl           the job TTL
--   completed_at  RFC 3339
--   callback_url  the job's callback URL, or ''
--   now           epoch seconds: when the callback is due
--   webhooks_due  <prefix>:webhooks:due
--   stats_cache   <prefix>:stats:cache
local function answer_from_cache(cache, job_key, job, record, ttl, completed_at, callback_url,
                                 now, webhooks_due, stats_cache)
  local hit = redis.call('HMGET', cache, 'result', 'model')
  if not hit[1] then return nil end
  redis.call('HSET', job_key, unpack(cjson.decode(record)))
  redis.call('HSET', job_key, 'status', 'succeeded', 'cached', '1', 'completed_at', completed_at)
  if callback_url ~= '' then
    redis.call('HSET', job_key, 'callback_url', callback_url, 'callback_state', 'pending')
    redis.call('ZADD', webhooks_due, now, 'job:' .. job)
  end
  redis.call('EXPIRE', job_key, ttl)
  -- The record reads its result from the entry: the entry must outlive it. Written only
  -- when the entry would expire first (with the default TTLs, in its last 7 of 30 days).
  local left = redis.call('TTL', cache)
  if left >= 0 and left < ttl then redis.call('EXPIRE', cache, ttl) end
  redis.call('HINCRBY', stats_cache, 'hits', 1)
  return {'cached', job, hit[1], hit[2]}
end

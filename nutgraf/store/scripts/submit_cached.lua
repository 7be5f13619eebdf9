-- submit_cached: answer a submission from the cache, or say it missed. Tried before
-- submit.lua, so that a cache hit sends neither the article nor the full record to Redis
-- and writes only a small record pointing at the cache entry.
-- needs: answer_from_cache.lua
--
-- KEYS[1] cache         <prefix>:cache:<digest>
-- KEYS[2] job           <prefix>:job:<id>: the new job's record
-- KEYS[3] webhooks_due  <prefix>:webhooks:due
-- KEYS[4] stats_cache   <prefix>:stats:cache
-- ARGV[1] job_id        the new job's id
-- ARGV[2] ttl_s         the job TTL
-- ARGV[3] record        the record's fields: a JSON list [field, value, field, value ...]
-- ARGV[4] callback_url  the job's callback URL, or ''
-- ARGV[5] completed_at  RFC 3339
-- ARGV[6] now           epoch seconds: when the callback is due
-- Returns {'cached', id, result, model}, or {'miss'}.
return answer_from_cache(KEYS[1], KEYS[2], ARGV[1], ARGV[3], tonumber(ARGV[2]), ARGV[5],
                         ARGV[4], ARGV[6], KEYS[3], KEYS[4]) or {'miss'}

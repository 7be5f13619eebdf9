-- read_job: a job's record, with its result and model read from the cache entry it points
-- at when it was answered from the cache (answer_from_cache.lua), in one round trip.
--
-- KEYS[1] job     <prefix>:job:<id>
-- ARGV[1] prefix  '<prefix>:', for the cache entry's key (cache:<digest>)
-- Returns the record as [field, value, ...] (empty when unknown or expired); a cache hit's
-- gets `result` and `model` from its entry, or neither when the entry is gone.
local record = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #record, 2 do fields[record[i]] = record[i + 1] end
if fields['cached'] == '1' and not fields['result'] and fields['cache_key'] then
  local hit = redis.call('HMGET', ARGV[1] .. 'cache:' .. fields['cache_key'], 'result', 'model')
  if hit[1] then
    table.insert(record, 'result')
    table.insert(record, hit[1])
    table.insert(record, 'model')
    table.insert(record, hit[2])
  end
end
return record

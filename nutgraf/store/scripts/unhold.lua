-- unhold: forget that a consumer holds a queued job's message, once it gave the message
-- back to the broker (a warm shutdown): the job then counts as queued and held by nobody,
-- not as abandoned by a dead consumer, which the sweep would send again at once.
--
-- KEYS[1] job     <prefix>:job:<id>
-- ARGV[1] holder  the consumer's id
-- Returns 1 when forgotten, 0 when another consumer holds it already (or none does).
if redis.call('HGET', KEYS[1], 'held_by') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'held_by', 'held_at')
return 1

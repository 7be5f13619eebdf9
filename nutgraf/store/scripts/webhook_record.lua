-- webhook_record: record one delivery attempt and its outcome atomically. A record that
-- another deliverer ended meanwhile (after a lease ran out) keeps its state; an expired
-- record is not re-created.
--
-- KEYS[1] record        <prefix>:job:<id> or <prefix>:batch:<id>
-- KEYS[2] webhooks_due  <prefix>:webhooks:due
-- ARGV[1] member        the outbox member: "job:<id>" or "batch:<id>"
-- ARGV[2] attempt       the attempt as a JSON object (appended to callback_attempts)
-- ARGV[3] outcome       delivered, retry or failed (retries spent, a 410 Gone, or a
--                       Retry-After past the retry window: no more attempts)
-- ARGV[4] next_due      epoch seconds: the next try, for a retry
-- Returns the callback's state afterwards: delivered, pending, failed or missing.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1]) return 'missing' end
local attempts = redis.call('HGET', KEYS[1], 'callback_attempts')
if not attempts or attempts == '' or attempts == '[]' then
  attempts = '[' .. ARGV[2] .. ']'
else
  attempts = string.sub(attempts, 1, -2) .. ',' .. ARGV[2] .. ']'
end
redis.call('HSET', KEYS[1], 'callback_attempts', attempts)
local state = redis.call('HGET', KEYS[1], 'callback_state')
if ARGV[3] == 'delivered' or (ARGV[3] == 'failed' and state == 'pending') then
  redis.call('HSET', KEYS[1], 'callback_state', ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return ARGV[3]
end
if ARGV[3] == 'retry' and state == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 'pending'
end
redis.call('ZREM', KEYS[2], ARGV[1])
return state or 'missing'

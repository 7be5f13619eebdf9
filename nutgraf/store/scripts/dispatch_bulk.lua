-- dispatch_bulk: choose the bulk jobs to send to the broker next, owners taking turns, so
-- that one key's 10,000-item backfill does not starve another key's 50 items. Only a few
-- bulk jobs sit in the broker at a time (`target`): the order is decided here, when a
-- worker is about to need them, not when they were submitted.
-- needs: lane_leave.lua
--
-- KEYS[1] turns    <prefix>:lane:bulk:turns: owners with pending jobs, next turn first
-- KEYS[2] pending  <prefix>:lane:bulk:pending
-- KEYS[3] sent     <prefix>:lane:bulk:sent
-- KEYS[4] queued   <prefix>:queued
-- ARGV[1] prefix   '<prefix>:', for the owners' lists and the jobs' records
-- ARGV[2] target   how many bulk jobs may wait in the broker at once
-- Returns the ids to send, in order (each now in `sent` and `queued`).
local prefix = ARGV[1]
local room = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[3])
local out = {}
-- Each turn sends a job or drops one that is no longer queued: bounded by both counts.
local turns_left = redis.call('ZCARD', KEYS[2]) + redis.call('LLEN', KEYS[1])
while room > 0 and turns_left > 0 do
  turns_left = turns_left - 1
  local owner = redis.call('LPOP', KEYS[1])
  if not owner then break end
  local list = prefix .. 'lane:bulk:owner:' .. owner
  local job = redis.call('LPOP', list)
  if redis.call('LLEN', list) > 0 then redis.call('RPUSH', KEYS[1], owner) end
  if job then
    local order = redis.call('ZSCORE', KEYS[2], job)
    redis.call('ZREM', KEYS[2], job)
    if order and redis.call('HGET', prefix .. 'job:' .. job, 'status') == 'queued' then
      redis.call('ZADD', KEYS[3], order, job)
      redis.call('SADD', KEYS[4], job)
      table.insert(out, job)
      room = room - 1
    end
  end
end
return out

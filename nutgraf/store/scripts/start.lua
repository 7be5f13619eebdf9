-- start: claim a job for a worker. A queued job starts; a running one starts again only
-- when its worker is dead (a redelivery after a crash): while the owner's heartbeat lives,
-- a second delivery (the broker's visibility timeout, the reconciler) must not run it
-- twice. An ended or expired job cannot start. A started job leaves its lane's order.
-- needs: lane_leave.lua
--
-- KEYS[1] job           <prefix>:job:<id>
-- KEYS[2] running_jobs  <prefix>:running:jobs
-- KEYS[3] queued        <prefix>:queued
-- ARGV[1] started_at    RFC 3339
-- ARGV[2] worker        the id of the worker process taking it
-- ARGV[3] job_id        the job's id
-- ARGV[4] prefix        '<prefix>:', for the owner's heartbeat key (worker:<id>)
-- ARGV[5] token         this call's own: a retry of the call (its reply was lost to a
--                       restart or the network) gets the start it made, not a refusal
-- Returns the job's attempts so far, this one included, or false when it cannot start.
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'succeeded' or status == 'failed' or status == 'cancelled' then
  return false end
if status == 'running' then
  if redis.call('HGET', KEYS[1], 'start_token') == ARGV[5] then
    return tonumber(redis.call('HGET', KEYS[1], 'attempts')) end
  local owner = redis.call('HGET', KEYS[1], 'worker')
  if owner and owner ~= '' and redis.call('EXISTS', ARGV[4] .. 'worker:' .. owner) == 1 then
    return false end
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'worker', ARGV[2],
  'start_token', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[3])
lane_leave(ARGV[4], ARGV[3], redis.call('HGET', KEYS[1], 'owner') or '')
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)

-- release_overdue: give a running job back to the queue when it has run past the hard
-- time limit, whether or not its worker still beats (a worker whose batch function lost
-- Redis could not end it). Only if it is still the same run the caller saw.
--
-- KEYS[1] job           <prefix>:job:<id>
-- KEYS[2] running_jobs  <prefix>:running:jobs
-- KEYS[3] queued        <prefix>:queued
-- ARGV[1] job_id        the job's id
-- ARGV[2] started_at    the start the caller saw (RFC 3339)
-- Returns 1 when the job was put back in the queue, else 0.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  redis.call('SREM', KEYS[2], ARGV[1]) return 0 end
if redis.call('HGET', KEYS[1], 'started_at') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('HDEL', KEYS[1], 'held_by', 'held_at')
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1

-- release_orphan: give a running job back to the queue if its worker is still the dead
-- one the caller saw. Atomic, so that of several workers noticing the same orphan only one
-- re-enqueues it.
--
-- KEYS[1] job           <prefix>:job:<id>
-- KEYS[2] running_jobs  <prefix>:running:jobs
-- KEYS[3] worker        <prefix>:worker:<owner>: the owner's heartbeat (gone if it died)
-- KEYS[4] queued        <prefix>:queued
-- ARGV[1] job_id        the job's id
-- ARGV[2] owner         the worker id the caller saw on the job
-- Returns 1 when the job was put back in the queue, else 0.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  redis.call('SREM', KEYS[2], ARGV[1]) return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('HDEL', KEYS[1], 'held_by', 'held_at')
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1

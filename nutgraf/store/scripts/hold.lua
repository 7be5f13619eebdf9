-- hold: note which consumer holds a queued job's message (prefetched, not yet started), and
-- since when, so that if that consumer dies the reconciler sends the job again at once
-- instead of waiting for the broker's visibility timeout, and if it holds the job longer
-- than that timeout without starting it (its message acknowledged unstarted), too.
--
-- KEYS[1] job     <prefix>:job:<id>
-- ARGV[1] holder  the consumer's id (its heartbeat is <prefix>:consumer:<id>)
-- ARGV[2] at      now, in seconds since the epoch
-- Returns 1 when noted, 0 when the job is not queued (started, ended or gone).
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'held_by', ARGV[1], 'held_at', ARGV[2])
return 1

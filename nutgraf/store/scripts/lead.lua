-- lead: take or renew a lease that makes one process the leader of a periodic task.
--
-- KEYS[1] lease   <prefix>:reconciler
-- ARGV[1] holder  the id of the process asking
-- ARGV[2] ttl_ms  how long the lease lasts unless renewed
-- Returns 1 when the caller holds the lease now, else 0.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0

-- webhook_claim: claim the callbacks due now. Each claimed member's score is pushed a
-- lease into the future, so that a deliverer that dies mid-delivery leaves it to be claimed
-- again when the lease runs out.
--
-- KEYS[1] webhooks_due  <prefix>:webhooks:due
-- ARGV[1] now           epoch seconds
-- ARGV[2] lease_until   epoch seconds: when an undelivered claim falls due again
-- ARGV[3] limit         claim at most this many
-- Returns the claimed members ("job:<id>", "batch:<id>").
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due

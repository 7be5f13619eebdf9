-- queue_place: where a queued job stands in its lane. Position 1 starts next. In the
-- interactive lane that is arrival order; in the bulk lane, the jobs already sent to the
-- broker come first, then the pending ones in the order owners take turns
-- (dispatch_bulk.lua): one job per owner per round, owners in `turns` order.
--
-- KEYS[1] job     <prefix>:job:<id>
-- ARGV[1] prefix  '<prefix>:', for the lanes' keys
-- ARGV[2] job_id  the job's id
-- Returns {lane, position}, or false when the job is not queued.
local prefix, job = ARGV[1], ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'status', 'lane', 'owner')
if f[1] ~= 'queued' then return false end
local lane, sent = 'interactive', prefix .. 'lane:interactive:sent'
if f[2] == 'bulk' then lane, sent = 'bulk', prefix .. 'lane:bulk:sent' end
local waiting = redis.call('ZCARD', sent)
local rank = redis.call('ZRANK', sent, job)
if rank then return {lane, rank + 1} end
local owner = f[3] or ''
local k = false
if lane == 'bulk' then k = redis.call('LPOS', prefix .. 'lane:bulk:owner:' .. owner, job) end
-- Sent again by the reconciler after its worker died: behind what waits already.
if not k then return {lane, waiting + 1} end
local ahead = waiting + k  -- all that was sent, and this owner's own earlier jobs
local before_me = true
for _, other in ipairs(redis.call('LRANGE', prefix .. 'lane:bulk:turns', 0, -1)) do
  if other == owner then
    before_me = false
  else
    local n = redis.call('LLEN', prefix .. 'lane:bulk:owner:' .. other)
    ahead = ahead + math.min(n, k)
    if before_me and n > k then ahead = ahead + 1 end
  end
end
return {lane, ahead + 1}

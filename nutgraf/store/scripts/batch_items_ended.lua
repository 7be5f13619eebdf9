-- library: batch_items_ended(prefix, batch, status, n, now, stamp)
-- Count `n` items of a batch as ended with `status`; when that was the last of them, end
-- the batch, schedule its callback and publish its end. Returns true when the batch ended.
-- Scripts that call it say `-- needs: batch_items_ended.lua`; the loader puts this text
-- in front of theirs. Keys used (built from `prefix`): batch:<id>, webhooks:due,
-- events:batch:<id>.
--   prefix  '<prefix>:'
--   batch   the batch's id
--   status  the status the items ended with (succeeded, failed, cancelled)
--   n       how many of its items ended so
--   now     epoch seconds: the callback's due time
--   stamp   RFC 3339: the batch's completed_at
local function batch_items_ended(prefix, batch, status, n, now, stamp)
  local key = prefix .. 'batch:' .. batch
  if redis.call('EXISTS', key) == 0 then return false end
  redis.call('HINCRBY', key, status, n)
  local done = redis.call('HINCRBY', key, 'done', n)
  if done < tonumber(redis.call('HGET', key, 'total')) then return false end
  local succeeded = tonumber(redis.call('HGET', key, 'succeeded') or '0')
  local final = 'partially_succeeded'
  if succeeded == done then final = 'succeeded' elseif succeeded == 0 then final = 'failed' end
  redis.call('HSET', key, 'status', final, 'completed_at', stamp)
  local url = redis.call('HGET', key, 'callback_url')
  if url and url ~= '' then
    redis.call('HSET', key, 'callback_state', 'pending')
    redis.call('ZADD', prefix .. 'webhooks:due', now, 'batch:' .. batch)
  end
  redis.call('PUBLISH', prefix .. 'events:batch:' .. batch, final)
  return true
end

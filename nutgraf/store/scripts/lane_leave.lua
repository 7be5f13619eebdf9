-- library: lane_leave(prefix, job, owner)
-- Take a job out of its lane's order: sent-and-waiting (either lane), or pending in the
-- bulk lane (its owner's list, and the owner's turn when that list is now empty). Called
-- when the job starts or ends, so that positions count only jobs that still wait.
-- Scripts that call it say `-- needs: lane_leave.lua`. Keys used (built from `prefix`):
-- lane:interactive:sent, lane:bulk:sent, lane:bulk:pending, lane:bulk:owner:<owner>,
-- lane:bulk:turns.
--   prefix  '<prefix>:'
--   job     the job's id
--   owner   the job's owner ('' without API keys)
local function lane_leave(prefix, job, owner)
  redis.call('ZREM', prefix .. 'lane:interactive:sent', job)
  redis.call('ZREM', prefix .. 'lane:bulk:sent', job)
  if redis.call('ZREM', prefix .. 'lane:bulk:pending', job) == 1 then
    local list = prefix .. 'lane:bulk:owner:' .. owner
    redis.call('LREM', list, 1, job)
    if redis.call('LLEN', list) == 0 then
      redis.call('LREM', prefix .. 'lane:bulk:turns', 0, owner)
    end
  end
end

-- batch_ended_at_once: count the items of a new batch that ended as it was created (cache
-- hits, items the API refused), and end the batch if that was all of them.
-- needs: batch_items_ended.lua
--
-- KEYS: none passed; the keys of batch_items_ended are built from the prefix.
-- ARGV[1] prefix        '<prefix>:'
-- ARGV[2] batch_id      the batch's id
-- ARGV[3] completed_at  RFC 3339: the batch's end, if it ends now
-- ARGV[4] now           epoch seconds: when its callback is due
-- ARGV[5] counts        JSON list [status, n, status, n ...] of the items that ended
-- Returns 1 when the batch ended, else 0.
local counts = cjson.decode(ARGV[5])
local ended = 0
for i = 1, #counts, 2 do
  if batch_items_ended(ARGV[1], ARGV[2], counts[i], tonumber(counts[i + 1]), tonumber(ARGV[4]),
                       ARGV[3]) then ended = 1 end
end
return ended

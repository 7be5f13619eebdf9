-- idempotency_claim: claim an Idempotency-Key, or report what it already stands for. The
-- value is '<fingerprint>|<target>'; the target is empty while the first request runs.
--
-- KEYS[1] idempotency  <prefix>:idem:<sha256>: the hash of scope and key
-- ARGV[1] fingerprint  the request body's fingerprint
-- ARGV[2] ttl_s        how long the key is remembered
-- Returns {'new', ''}, {'mismatch', ''} (another body), {'in_progress', ''} or
-- {'replay', target}.
local claimed = redis.call('SET', KEYS[1], ARGV[1] .. '|', 'NX', 'EX', tonumber(ARGV[2]))
if claimed then return {'new', ''} end
local value = redis.call('GET', KEYS[1])
local sep = string.find(value, '|', 1, true)
local fingerprint, target = string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
if fingerprint ~= ARGV[1] then return {'mismatch', ''} end
if target == '' then return {'in_progress', ''} end
return {'replay', target}

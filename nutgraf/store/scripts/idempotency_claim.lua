-- idempotency_claim: claim an Idempotency-Key, or report what it already stands for. The
-- value is '<fingerprint>|<target>'; while the first request runs, the target is '?' and
-- the claiming call's token, so that a retry of that call (its reply lost to a Redis
-- restart or the network) gets its own claim back instead of 'in_progress' (a 409 for a
-- key then held by no one until it expires). An empty target is an older version's claim.
--
-- KEYS[1] idempotency  <prefix>:idem:<sha256>: the hash of scope and key
-- ARGV[1] fingerprint  the request body's fingerprint
-- ARGV[2] ttl_s        how long the key is remembered
-- ARGV[3] token        this call's own, the same in each try of it
-- Returns {'new', ''}, {'mismatch', ''} (another body), {'in_progress', ''} or
-- {'replay', target}.
local claim = '?' .. ARGV[3]
local claimed = redis.call('SET', KEYS[1], ARGV[1] .. '|' .. claim, 'NX', 'EX', tonumber(ARGV[2]))
if claimed then return {'new', ''} end
local value = redis.call('GET', KEYS[1])
local sep = string.find(value, '|', 1, true)
local fingerprint, target = string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
if fingerprint ~= ARGV[1] then return {'mismatch', ''} end
if target == claim then return {'new', ''} end
if target == '' or string.sub(target, 1, 1) == '?' then return {'in_progress', ''} end
return {'replay', target}

package redis

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// script is the Lua script that writes one batch. Redis runs a script as
// one atomic step, and with an append-only file or a replica it records
// the script's writes as one MULTI/EXEC block, so the commands of a batch
// and the pipeline's position are applied together or not at all.
//
// ARGV: the positions hash, the pipeline's name ("" when the sink keeps
// no position), the position the hash must hold for that name now ("" for
// none), the position to write ("" for none), the number of type checks,
// the checks (key, wanted type), then the commands, each as its argument
// count followed by its arguments.
//
// Before writing anything the script checks that the position is the one
// the sink last wrote (a compare-and-set that fences a second sluice
// writing the same pipeline, and tells a retry whether the attempt whose
// answer was lost took effect) and that every key a command needs of a
// type holds that type or nothing. A failed check returns an error and
// writes nothing; afterwards no command can fail for a reason of the
// data, so the batch is never half applied.
const script = `local pk, id, want, new = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if id ~= '' then
  local t = redis.call('TYPE', pk)['ok']
  if t ~= 'none' and t ~= 'hash' then
    return redis.error_reply('SLUICETYPE ' .. t .. ' hash ' .. pk)
  end
  local cur = redis.call('HGET', pk, id)
  if not cur then cur = '' end
  if cur ~= want then
    return redis.error_reply('SLUICEMOVED ' .. cur)
  end
end
local n = tonumber(ARGV[5])
local i = 6
for c = 1, n do
  local k, w = ARGV[i], ARGV[i + 1]
  local t = redis.call('TYPE', k)['ok']
  if t ~= 'none' and t ~= w then
    return redis.error_reply('SLUICETYPE ' .. t .. ' ' .. w .. ' ' .. k)
  end
  i = i + 2
end
local last = #ARGV
while i <= last do
  local m = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + m))
  i = i + m + 1
end
if id ~= '' and new ~= '' then
  redis.call('HSET', pk, id, new)
end
return 1
`

// scriptSHA is the script's SHA-1, the name EVALSHA calls it by.
var scriptSHA = func() string {
	h := sha1.Sum([]byte(script))
	return hex.EncodeToString(h[:])
}()

// Error prefixes of the script.
const (
	errMoved = "SLUICEMOVED "
	errType  = "SLUICETYPE "
)

// typeError reads a SLUICETYPE error: the type a key holds, the type the
// sink needs, and the key.
func typeError(msg string) (has, want, key string) {
	rest := strings.TrimPrefix(msg, errType)
	has, rest, _ = strings.Cut(rest, " ")
	want, key, _ = strings.Cut(rest, " ")
	return has, want, key
}

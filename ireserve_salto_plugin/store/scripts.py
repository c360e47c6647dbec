"""The Redis store's two Lua scripts: one round trip each for the open's claim and its
result (:mod:`.redis`)."""

# The open's second round trip: SET KEYS[i] ARGV[2i-1] PX ARGV[2i] for the first ARGV[#]
# keys, DEL the rest. One script, not a pipeline: one reply to parse, not one per command.
# Then DEL the next ARGV[#ARGV - 1] keys; each key after them is a list: RPUSH the value,
# LTRIM to the cap, PEXPIRE (ARGV triples after the SETs' pairs).
WRITE = """
local sets, dels = tonumber(ARGV[#ARGV]), tonumber(ARGV[#ARGV - 1])
for i = 1, sets do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i]) end
for i = sets + 1, sets + dels do redis.call('DEL', KEYS[i]) end
local a = 2 * sets
for i = sets + dels + 1, #KEYS do
  redis.call('RPUSH', KEYS[i], ARGV[a + 1])
  redis.call('LTRIM', KEYS[i], -tonumber(ARGV[a + 3]), -1)
  redis.call('PEXPIRE', KEYS[i], ARGV[a + 2])
  a = a + 3
end
return sets
"""
# The open's first round trip (the duplicate guard) and an IQ slot's: SET NX PX KEYS[1],
# read the next ARGV[3] keys; only if it was set, push to each list key after them (the
# door log's intent, written with the slot it goes out in), as WRITE's pushes.
CLAIM = """
local claimed = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
local reads = tonumber(ARGV[3])
local out = {claimed and 1 or 0}
for i = 2, reads + 1 do out[i] = redis.call('GET', KEYS[i]) end
if claimed then
  local a = 3
  for i = reads + 2, #KEYS do
    redis.call('RPUSH', KEYS[i], ARGV[a + 1])
    redis.call('LTRIM', KEYS[i], -tonumber(ARGV[a + 3]), -1)
    redis.call('PEXPIRE', KEYS[i], ARGV[a + 2])
    a = a + 3
  end
end
return out
"""

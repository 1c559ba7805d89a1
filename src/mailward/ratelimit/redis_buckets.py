"""Token buckets in Redis, shared by every gateway node.

One Lua script (sent once, then called by its SHA with EVALSHA) refills and takes from all the
buckets of a check atomically, on the Redis server's own clock (TIME), so the nodes' clocks do
not matter. A bucket is a hash {t: tokens, ts: when} whose key expires when the bucket would be
full again: an absent key is a full bucket, and idle clients leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from mailward.ratelimit.buckets import Bucket, Take

#: KEYS: the buckets; ARGV[1]: the cost, then per bucket its rate (tokens/s) and burst.
#: Returns {denied, wait}: denied is 0 when the tokens were taken, else the 1-based index of the
#: first short bucket (nothing is written then); wait: seconds until it has the cost (string).
TAKE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local levels = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 't', 'ts')
  local tokens, ts = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
  elseif now > ts then
    tokens = math.min(burst, tokens + (now - ts) * rate)
  end
  if tokens < cost then
    return {i, string.format('%.6f', (cost - tokens) / rate)}
  end
  levels[i] = tokens
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local left = levels[i] - cost
  redis.call('HSET', key, 't', string.format('%.6f', left), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
end
return {0, '0'}
"""


class RedisBuckets:
    """Buckets in Redis (see the module docstring); errors reach the caller, which fails open."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._script = client.register_script(TAKE_SCRIPT)

    async def take(self, buckets: Sequence[Bucket], cost: float = 1.0) -> Take:
        if not buckets:
            return Take()
        args: list[str] = [repr(float(cost))]
        for b in buckets:
            args += [repr(b.per_second), str(b.burst)]
        denied, wait = await self._script(keys=[b.key for b in buckets], args=args)
        if int(denied) == 0:
            return Take()
        return Take(denied=int(denied) - 1, retry_after=float(wait))

    async def aclose(self) -> None:
        await self.client.aclose()

"""Rate limits at MAIL and RCPT: token buckets per client address, sender and recipient, in
Redis (shared by every node) or in memory (one node); see docs/ratelimits.md."""

from mailward.ratelimit.buckets import Bucket, BucketStore, MemoryBuckets, Take
from mailward.ratelimit.limiter import STATS, RateLimiter, RateLimitStats, Refusal

__all__ = ["STATS", "Bucket", "BucketStore", "MemoryBuckets", "RateLimitStats", "RateLimiter",
           "Refusal", "Take"]

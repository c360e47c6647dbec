"""Runtime state shared by every park: the in-process store, the Redis (and Redis
Cluster) store, and the guards built on them (OTP budget, duplicate guard, receipts)."""

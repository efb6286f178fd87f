"""Usage, quotas and prices (issue 23): what the workers' finishes recorded per key, model
and hour (the store's usage_hours), read as GET /api/ai/usage; the GPU-seconds quota
checked at enqueue; the operator's price table behind usage costs and models' pricing."""

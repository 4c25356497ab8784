"""Rate limits and write pacing per tenant, so an agent cannot flood the gateway or get the account flagged.

- ``store``: token buckets (GCRA, one float each) behind the :class:`~mcpgram.limits.store.RateStore`
  interface, with a bounded in-memory implementation; pure, the clock is a parameter.
- ``pacing``: what is counted: every tool call, resource read and prompt get per tenant
  (:class:`~mcpgram.limits.pacing.CallLimiter`), and Telegram writes per tenant, per chat and to
  new recipients (:class:`~mcpgram.limits.pacing.WritePacer`), held back after a FLOOD_WAIT.

Over a limit is :class:`~mcpgram.errors.RateLimited` (``RATE_LIMITED`` with ``retry_after``).
"""

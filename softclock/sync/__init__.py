"""The central billing store: its schema, admin, and the sync of entries and reference data.

Only this package talks to the central store. The local store keeps working
when the central one is away; the outbox (``softclock.store.models.Outbox``)
holds approved entry versions until they are pushed.
"""

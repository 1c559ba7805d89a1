"""Scale-out: several gateway nodes on one PostgreSQL store and one Redis (docs/cluster.md).

:mod:`.redis` connects; :mod:`.lock` holds leased locks for batch jobs; :mod:`.notify` spreads
lockdown changes; :mod:`.held` keeps held mail in the shared store; :mod:`.release` releases it
from any node exactly once; :mod:`.jobs` runs a batch job on one node at a time.
"""

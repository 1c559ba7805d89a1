"""Settings of the ``[cluster]`` section: several gateway nodes on one PostgreSQL store and one
Redis (see docs/cluster.md). With ``redis_url`` empty (the default) the gateway is a single node
as before: nothing here is used."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClusterSettings(BaseModel):
    """Redis for what the nodes must share fast: lockdown change notices and batch-job locks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``redis://HOST:PORT/DB``; empty: one node, no Redis (held mail stays in the local spool).
    redis_url: str = ""
    #: This node's name, unique in the cluster; empty: ``<hostname>-<hash of data_dir>``.
    node_id: str = Field("", max_length=120)
    #: Every Redis key and channel starts with this (several clusters on one Redis).
    key_prefix: str = Field("mailward:", max_length=64)
    #: A batch job's lock lasts this long unless its node renews it (every third of it):
    #: a node that dies holds no lock longer than this.
    lock_lease_seconds: float = Field(30.0, ge=1.0, le=3600.0)
    #: How often a node looks for open release orders and parks held mail in the store
    #: (a Redis notice wakes it at once).
    poll_seconds: float = Field(2.0, gt=0, le=60.0)

"""Settings of the ``[campaigns]`` section: clustering messages into campaigns as they flow,
and what happens when one member of a campaign is found bad (see docs/campaigns.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class CampaignSettings(BaseModel):
    """Near-duplicate and shared-indicator clustering; claw-back of a bad campaign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: Estimated Jaccard similarity (MinHash over word shingles of the normalised text) at
    #: which two messages are near-duplicates (0..1); also the MinHashLSH threshold.
    similarity: float = Field(0.6, ge=0.1, le=0.95)
    #: Lower similarity that still joins when the messages also share a link domain or
    #: sender infrastructure (envelope or From domain, client network).
    infra_similarity: float = Field(0.35, gt=0, le=0.95)
    #: MinHash permutations (more: a finer estimate, more CPU per message).
    num_perm: int = Field(64, ge=16, le=512)
    #: Words per shingle.
    shingle_words: int = Field(3, ge=1, le=8)
    #: A message matching members of two or more clusters merges them into the oldest (its
    #: id is kept; the others' ids lead to it); a merged campaign is bad when any part was,
    #: and then the good parts' delivered members are clawed back too.
    merge: bool = True
    #: A cluster becomes a campaign (stored, listed, alerted on) at this many messages.
    min_members: int = Field(3, ge=2)
    #: Hours of mail a new message is clustered against (the in-memory window).
    window_hours: float = Field(24.0, gt=0)
    #: Link registrable domains never used to join messages (shared by much unrelated mail);
    #: the organisation's accepted domains are never used either. Other link domains join
    #: only together with a content similarity of infra_similarity.
    ignore_link_domains: tuple[str, ...] = (
        "google.com", "microsoft.com", "office.com", "apple.com", "facebook.com",
        "linkedin.com", "twitter.com", "x.com", "youtube.com", "w3.org",
    )
    #: When one member is found bad (zero-hour purge, a later detection, an analyst), claw
    #: back every delivered member of its campaign with the zero-hour claw-back.
    clawback: bool = True
    #: A message whose verdict is one of these marks its campaign bad as it arrives. Off by
    #: default: a spoof of a legitimate message (DMARC reject or quarantine) is a near-duplicate
    #: of it, and would condemn the original and claw back every delivered copy. Feed updates,
    #: rules changes (the zero-hour re-scan) and analysts still find campaigns bad.
    bad_actions: tuple[str, ...] = ()
    #: Days campaigns and their members are kept in the store.
    retention_days: float = Field(30.0, gt=0)

    @field_validator("ignore_link_domains")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower().rstrip(".") for v in value if v.strip())

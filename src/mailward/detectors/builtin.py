"""The built-in detectors: the classes the registry builds by default.

``BUILTIN_DETECTORS`` lists the detector classes the registry builds by default; each follows
:mod:`mailward.engine.contract` (name, symbols, timeout, fail_closed, Settings, async check).
"""

from __future__ import annotations

from mailward.detectors.archives import ArchiveDetector
from mailward.detectors.attachments import ExecutableAttachmentDetector
from mailward.detectors.auth import AuthDetector
from mailward.detectors.content import ContentClassifierDetector
from mailward.detectors.documents import DocumentDetector
from mailward.detectors.evasion import EvasionDetector
from mailward.detectors.feeds import ThreatFeedDetector
from mailward.detectors.forms import CredentialFormDetector
from mailward.detectors.hosting import HostingDetector
from mailward.detectors.identity import IdentityDetector
from mailward.detectors.impersonation import DisplayNameAddressDetector
from mailward.detectors.lures import LureDetector
from mailward.detectors.mime_ambiguity import MimeAmbiguityDetector
from mailward.detectors.smuggling import HtmlSmugglingDetector
from mailward.detectors.teststrings import StandardTestStringDetector
from mailward.detectors.urls import LinkMismatchDetector
from mailward.detectors.windows_types import WindowsTypeDetector
from mailward.detectors.yara_scan import YaraDetector
from mailward.engine.contract import DetectorFactory

BUILTIN_DETECTORS: tuple[DetectorFactory, ...] = (
    ExecutableAttachmentDetector,
    ArchiveDetector,
    WindowsTypeDetector,
    DocumentDetector,
    HtmlSmugglingDetector,
    MimeAmbiguityDetector,
    YaraDetector,
    DisplayNameAddressDetector,
    LinkMismatchDetector,
    HostingDetector,
    AuthDetector,
    CredentialFormDetector,
    ThreatFeedDetector,
    LureDetector,
    EvasionDetector,
    ContentClassifierDetector,
    IdentityDetector,
    StandardTestStringDetector,
)

__all__ = [
    "BUILTIN_DETECTORS",
    "AuthDetector",
    "ContentClassifierDetector",
    "CredentialFormDetector",
    "DisplayNameAddressDetector",
    "DocumentDetector",
    "EvasionDetector",
    "ExecutableAttachmentDetector",
    "HostingDetector",
    "HtmlSmugglingDetector",
    "IdentityDetector",
    "LinkMismatchDetector",
    "LureDetector",
    "MimeAmbiguityDetector",
    "StandardTestStringDetector",
    "ThreatFeedDetector",
    "WindowsTypeDetector",
    "YaraDetector",
]

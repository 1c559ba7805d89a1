"""Archive and container analysis: list and read what an attachment holds, safely.

Public surface:

- :func:`expand` lists and reads the members of an archive, disk image or compressed stream,
  recursively and in memory (libarchive: zip, 7z, rar, tar, cpio, iso9660, cab, gzip, bzip2,
  xz...), within :class:`ArchiveLimits`; it never raises;
- :class:`ExpansionResult` and :class:`Member`: what it found;
- :func:`find_passwords`: candidate archive passwords in a message's text;
- :func:`disk_image`, :func:`read_plan`, :func:`display_name`: type helpers.
"""

from mailward.attachments._expand import expand
from mailward.attachments._formats import (
    IMAGE_EXTENSIONS,
    ReadPlan,
    disk_image,
    display_name,
    extension,
    read_plan,
)
from mailward.attachments._model import ArchiveLimits, ExpansionResult, Member
from mailward.attachments._passwords import find_passwords

__all__ = [
    "IMAGE_EXTENSIONS",
    "ArchiveLimits",
    "ExpansionResult",
    "Member",
    "ReadPlan",
    "disk_image",
    "display_name",
    "expand",
    "extension",
    "find_passwords",
    "read_plan",
]

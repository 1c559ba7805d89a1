"""Archive and container analysis: list and read what an attachment holds, safely.

Public surface:

- :func:`expand` lists and reads the members of an archive, disk image or compressed stream,
  recursively and in memory (libarchive: zip, 7z, rar, tar, cpio, iso9660, cab, gzip, bzip2,
  xz...), within :class:`ArchiveLimits`; it never raises;
- :class:`ExpansionResult` and :class:`Member`: what it found;
- :func:`find_passwords`: candidate archive passwords in a message's text;
- :func:`disk_image`, :func:`read_plan`, :func:`display_name`: type helpers;
- :func:`windows_type` and :class:`WindowsMatch`: what Windows does with a file (the table in
  mailward/data/windows_file_types.toml), by content and by name; :func:`onenote_files`,
  :func:`disk_image_kind`, :func:`pe_kind`: the content readers behind it.
"""

from mailward.attachments._expand import expand
from mailward.attachments._formats import (
    IMAGE_EXTENSIONS,
    ReadPlan,
    disk_image,
    disk_image_kind,
    display_name,
    extension,
    read_plan,
)
from mailward.attachments._model import ArchiveLimits, ExpansionResult, Member
from mailward.attachments._passwords import find_passwords
from mailward.attachments._windows import (
    LNK_MAGIC,
    ONENOTE_MAGIC,
    WindowsMatch,
    onenote_files,
    pe_kind,
    windows_type,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "LNK_MAGIC",
    "ONENOTE_MAGIC",
    "ArchiveLimits",
    "ExpansionResult",
    "Member",
    "ReadPlan",
    "WindowsMatch",
    "disk_image",
    "disk_image_kind",
    "display_name",
    "expand",
    "extension",
    "find_passwords",
    "onenote_files",
    "pe_kind",
    "read_plan",
    "windows_type",
]

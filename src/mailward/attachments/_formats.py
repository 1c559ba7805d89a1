"""Which bytes are containers, and how libarchive should read them; names made displayable.

Only formats and filters libarchive decodes in-process are used (never its external-program
fallbacks such as lrzip, lzop or grzip), and each container is opened with the one format its
type calls for: libarchive's catch-all "all" would read ordinary text as an mtree listing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mailward.data.windows_types import extensions_that

_DISPLAY_LIMIT = 120
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_COMPRESSED_FORMATS = ("tar", "cpio", "raw")


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to open a container: the compression filter, then formats to try in order."""

    kind: str  # what a person calls it: "ZIP archive", "gzip stream"...
    filter_name: str
    formats: tuple[str, ...]
    by_content: bool = True  # False: only the file name says it is a container

    @property
    def is_stream(self) -> bool:
        """A compressed stream of one file (gzip, bzip2...), not an archive of several."""
        return self.filter_name != "none"


_BY_TYPE: dict[str, ReadPlan] = {
    "application/zip": ReadPlan("ZIP archive", "none", ("zip",)),
    "application/x-zip-compressed": ReadPlan("ZIP archive", "none", ("zip",)),
    "application/x-7z-compressed": ReadPlan("7-Zip archive", "none", ("7zip",)),
    "application/x-rar": ReadPlan("RAR archive", "none", ("rar", "rar5")),
    "application/vnd.rar": ReadPlan("RAR archive", "none", ("rar", "rar5")),
    "application/x-rar-compressed": ReadPlan("RAR archive", "none", ("rar", "rar5")),
    "application/x-tar": ReadPlan("tar archive", "none", ("tar",)),
    "application/x-ustar": ReadPlan("tar archive", "none", ("tar",)),
    "application/x-cpio": ReadPlan("cpio archive", "none", ("cpio",)),
    "application/x-iso9660-image": ReadPlan("ISO 9660 disk image", "none", ("iso9660",)),
    "application/vnd.ms-cab-compressed": ReadPlan("CAB archive", "none", ("cab",)),
    "application/x-lha": ReadPlan("LHA archive", "none", ("lha",)),
    "application/x-lzh-compressed": ReadPlan("LHA archive", "none", ("lha",)),
    "application/x-archive": ReadPlan("ar archive", "none", ("ar",)),
    "application/gzip": ReadPlan("gzip stream", "gzip", _COMPRESSED_FORMATS),
    "application/x-gzip": ReadPlan("gzip stream", "gzip", _COMPRESSED_FORMATS),
    "application/x-bzip2": ReadPlan("bzip2 stream", "bzip2", _COMPRESSED_FORMATS),
    "application/x-xz": ReadPlan("xz stream", "xz", _COMPRESSED_FORMATS),
    "application/x-lzma": ReadPlan("lzma stream", "lzma", _COMPRESSED_FORMATS),
    "application/x-lzip": ReadPlan("lzip stream", "lzip", _COMPRESSED_FORMATS),
    "application/x-compress": ReadPlan("compress stream", "compress", _COMPRESSED_FORMATS),
}
_EXTENSION_TYPES = {
    "zip": "application/zip",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "tar": "application/x-tar",
    "cpio": "application/x-cpio",
    "iso": "application/x-iso9660-image",
    "img": "application/x-iso9660-image",  # malicious .img files are mostly ISO 9660 inside
    "cab": "application/vnd.ms-cab-compressed",
    "lzh": "application/x-lha",
    "lha": "application/x-lha",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "bz2": "application/x-bzip2",
    "tbz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "txz": "application/x-xz",
    "lzma": "application/x-lzma",
    "lz": "application/x-lzip",
    "z": "application/x-compress",
}
_STREAM_SUFFIXES = {"tgz": "tar", "tbz2": "tar", "txz": "tar"}
#: Disk images Windows mounts with a double-click; files inside lose the Mark-of-the-Web
#: (the "mounts" rows of mailward/data/windows_file_types.toml).
IMAGE_EXTENSIONS = frozenset(extensions_that("mounts"))
_IMAGE_TYPES = {
    "application/x-iso9660-image": "an ISO 9660 disk image",
    "application/x-virtualbox-vhd": "a VHD virtual disk",
    "application/x-virtualbox-vhdx": "a VHDX virtual disk",
    "application/x-udf-image": "a UDF disk image",
}
#: Where disk images keep their volume descriptors: ISO 9660 and UDF at 0x8001 (the descriptors
#: follow one another, 2 KB apart).
_IMAGE_OFFSETS = (0x8001, 0x8801, 0x9001)
_IMAGE_MARKERS = {b"CD001": "an ISO 9660 disk image", b"BEA01": "a UDF disk image",
                  b"NSR02": "a UDF disk image", b"NSR03": "a UDF disk image"}  # fmt: skip
_IMAGE_DESCRIPTIONS = (
    ("microsoft disk image extended", "a VHDX virtual disk"),
    ("microsoft disk image", "a VHD virtual disk"),
    ("udf filesystem", "a UDF disk image"),
    ("iso 9660", "an ISO 9660 disk image"),
)


def display_name(name: str | bytes | None, limit: int = _DISPLAY_LIMIT) -> str:
    """A member or file name as text safe to show: controls and bidi marks spelled out."""
    if name is None or name == "":
        return "(unnamed)"
    text = name.decode("utf-8", errors="replace") if isinstance(name, bytes) else name
    shown = _UNPRINTABLE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def extension(name: str | None) -> str:
    """The last extension of ``name``, lower-case, trailing dots and spaces trimmed."""
    if not name:
        return ""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].rstrip(" .")
    return base.rsplit(".", 1)[1].strip().lower() if "." in base else ""


def base_type(detected_type: str) -> str:
    return detected_type.split(";", 1)[0].strip().lower()


def read_plan(detected_type: str, name: str | None) -> ReadPlan | None:
    """How to open these bytes as a container, by libmagic type first, then by extension."""
    plan = _BY_TYPE.get(base_type(detected_type))
    if plan is not None:
        return plan
    if base_type(detected_type) not in {"application/octet-stream", ""}:
        return None  # the content is something else, whatever the name says
    by_ext = _EXTENSION_TYPES.get(extension(name))
    return replace(_BY_TYPE[by_ext], by_content=False) if by_ext else None


def disk_image_kind(content: bytes) -> str | None:
    """What disk image ``content`` is by its own signatures (ISO 9660 and UDF volume
    descriptors, the VHD "conectix" cookie at 0 or in the 512-byte footer, VHDX "vhdxfile"), or
    None."""
    if content[:8] == b"vhdxfile":
        return "a VHDX virtual disk"
    if content[:8] == b"conectix" or (
        len(content) >= 512 and b"conectix" in (content[-512:-504], content[-511:-503])
    ):
        return "a VHD virtual disk"
    for offset in _IMAGE_OFFSETS:
        marker = content[offset : offset + 5]
        if marker in _IMAGE_MARKERS:
            return _IMAGE_MARKERS[marker]
    return None


def disk_image(
    detected_type: str, description: str, name: str | None, content: bytes = b""
) -> str | None:
    """What kind of disk image this is (by content, then by extension), or None.

    ``content``, when given, is read for the images' own signatures (ISO 9660 and UDF volume
    descriptors, the VHD footer, the VHDX header), which libmagic does not always name.
    """
    found = _IMAGE_TYPES.get(base_type(detected_type))
    if found is not None:
        return found
    by_signature = disk_image_kind(content) if content else None
    if by_signature is not None:
        return by_signature
    lowered = description.lower()
    for needle, kind in _IMAGE_DESCRIPTIONS:
        if needle in lowered:
            return kind
    ext = extension(name)
    return f'a disk image (".{ext}")' if ext in IMAGE_EXTENSIONS else None


def stream_member_name(name: str) -> str:
    """The name of the one file inside a compressed stream: "a.tar.gz" -> "a.tar"."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return "data"
    inner = _STREAM_SUFFIXES.get(ext.lower())
    return f"{stem}.{inner}" if inner else stem

"""Every name a mail program could show for a part (mailward.mime._names)."""

from __future__ import annotations

import base64
from email.parser import BytesParser

import pytest

from mailward.mime._headers import RAW_POLICY
from mailward.mime._names import MAX_NAMES, extensions_of, part_names


def names(headers: bytes) -> tuple[str, ...]:
    return part_names(BytesParser(policy=RAW_POLICY).parsebytes(headers + b"\r\nbody\r\n"))


CT = b"Content-Type: application/octet-stream"
CD = b"Content-Disposition: attachment"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (CT + b"; name=\"a b.zip\"\r\n", "a b.zip"),
        (CT + b"\r\n" + CD + b"; filename*=UTF-8''%C3%BCber.zip\r\n", "\u00fcber.zip"),
        (CT + b"; name*0=arch; name*1=ive.zip\r\n", "archive.zip"),
        (CT + b"; name*1=zip; name*0=archive.\r\n", "archive.zip"),
        (CT + b"; name*1=archive.; name*2=zip\r\n", "archive.zip"),
        (CT + b"; name*0=archive.\r\n" + CD + b"; name*1=zip\r\n", "archive.zip"),
        (CT + b"; name*=UTF-16''" + "".join(f"{c}%00" for c in "x.zip").encode() + b"\r\n", "x.zip"),
        (CT + b"; name=\"=?utf-8?B?" + base64.b64encode(b"x.zip") + b"?=\"\r\n", "x.zip"),
        (CT + b"; name=\"=?utf-16?B?" + base64.b64encode("x.zip".encode("utf-16-be")) + b"?=\"\r\n",
         "x.zip"),
        (CT + b"; name=x.zip; name=y.png\r\n", "x.zip"),
        (CT + b"; name=y.png\r\n" + CT + b"; name=x.zip\r\n", "x.zip"),
        (CT + b"; name=\"x\".zip\r\n", "x.zip"),
        (CT + b"; name=x;.zip\r\n", "x;.zip"),
        (CT + b"; name=x.z()ip\r\n", "x.zip"),
        (CT + b"\r\n" + CD + b"; file()name=x.zip\r\n", "x.zip"),
    ],
)
def test_every_reading_is_a_name(headers: bytes, expected: str) -> None:
    assert expected in names(headers)


def test_plain_name_is_one_name() -> None:
    assert names(CT + b"; name=\"report.pdf\"\r\n" + CD + b"; filename=\"report.pdf\"\r\n") == (
        "report.pdf",
    )


def test_no_name_no_names() -> None:
    assert names(b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n") == ()


def test_names_are_bounded() -> None:
    many = b"".join(b"; name=n%d.txt" % i for i in range(200))
    assert len(names(CT + many + b"\r\n")) <= MAX_NAMES


def test_extensions_as_windows_reads_them() -> None:
    assert extensions_of(["a.ZIP", "b.zip. ", "c", "d.tar.gz", "'e.pdf'"]) == ["zip", "gz", "pdf"]

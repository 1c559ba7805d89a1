"""Features of the content classifier: only what the sender wrote, links to and attaches.

Read from a :class:`~mailward.model.ParsedMessage`:

- the subject and body text (``msg.text``, which holds the HTML's visible text when a message
  has no plain-text part): word 1-2 grams and character 3-5 grams, hashed;
- the links (``msg.urls``): registrable domain, top-level domain, scheme, words of the path,
  "the link is an IP address", link counts, as hashed tokens;
- the attachments (when the spec's ``attachment_features`` is on): detected content type and
  file extension, as hashed tokens;
- a few dense numbers (log counts of links, domains and attachments; text length; shouting);
- when the spec's ``identity_features`` is on, the outcome of the claimed-identity check as
  dense numbers (:meth:`mailward.identity.IdentityReport.features`: "a brand is claimed and
  unsupported", "the links go to the sender", "the sender is consistent", ...), so the model
  can weigh wording against evidence. Only the outcome is a feature, never the sender's domain
  or name; it is computed from the message alone (no DNS), the same in training and scanning.

Never read: trace headers, Date, Message-ID, mailer names, From/To/Reply-To addresses or any
other header. Those are artefacts of where and when a corpus was collected, not of intent, so
two messages that differ only in them get the same feature vector.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

# a module import, not names: mailward.identity imports the detectors package, which imports
# this module through the content detector
from mailward import identity
from mailward.classifier import _native
from mailward.classifier._charhash import hash_char_ngrams
from mailward.classifier._fastrow import BlockHasher, HashLoop
from mailward.classifier._wordgrams import WordGrams
from mailward.model import ParsedMessage

if TYPE_CHECKING:
    import scipy.sparse as sp

#: Characters of body text read for word and character grams (keeps predict time bounded).
WORD_CHARS = 8_000
CHAR_CHARS = 1_500
_PATH_WORD = re.compile(r"[a-z]{3,20}")
#: The local part is matched possessively (``++``): it cannot hold "@", so giving characters
#: back never helps a match; the same matches without retrying every shorter run.
_EMAIL = re.compile(r"[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
_LOCAL_CHAR = re.compile(r"[\w.+-]")
_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = {ord(d): "0" for d in "123456789"}
_MAX_URLS = 50
IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]
DENSE_NAMES = (
    "log_urls", "log_domains", "has_ip_link", "log_attachments", "log_text_len",
    "subject_upper", "exclamations", "empty_text",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Sizes of the hashed feature blocks; saved beside a model so it is rebuilt the same."""

    word_features: int = 2**18
    char_features: int = 2**18
    meta_features: int = 2**16
    #: Attachment type/extension tokens and count. Off by default: in public corpora the ham
    #: rarely keeps its attachments (exports strip them), so "has a PDF" would learn the
    #: collection, not the intent. Turn on when training on mail that kept its attachments.
    attachment_features: bool = False
    #: Tokens of the claimed-identity check (no DNS: the message's own evidence only).
    identity_features: bool = True

    @property
    def n_features(self) -> int:
        return (
            self.word_features + self.char_features + self.meta_features + len(self.dense_names)
        )

    @property
    def dense_names(self) -> tuple[str, ...]:
        return DENSE_NAMES + (identity.FEATURE_NAMES if self.identity_features else ())

    def to_json(self) -> dict[str, int | bool]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        sizes = {k: int(data[k]) for k in ("word_features", "char_features", "meta_features")}
        return cls(
            **sizes,
            attachment_features=bool(data.get("attachment_features", False)),
            identity_features=bool(data.get("identity_features", False)),
        )


def body_text(msg: ParsedMessage, limit: int = WORD_CHARS) -> str:
    """Subject and body as one document (the body already holds HTML text when no plain part).

    E-mail addresses become one placeholder token and every digit becomes "0": addresses and
    years in a body say who collected a corpus and when, not what the message wants.
    """
    text = f"{msg.subject}\n{msg.text[:limit]}"
    if "@" in text:
        text = _addresses_replaced(text)
    if text.isascii():  # \d matches only 0-9 there: one translate, not a match per digit
        return text.translate(_ASCII_DIGITS)
    native = _native.NATIVE
    if native is not None:  # the same characters (str.isdecimal), in one pass
        return native.zero_digits(text)
    return _DIGIT.sub("0", text)


def _addresses_replaced(text: str) -> str:
    """``_EMAIL.sub(" emailaddress ", text)``, with the pattern tried only where it can match.

    The pattern scanned from each character of a word, running to the word's end every time
    (quadratic in the word). A match holds exactly one "@", and its local part (which cannot
    hold "@") runs back from it, so the match re.sub would find next is the one starting where
    the run of local-part characters before the next "@" begins (not before the last match's
    end), when one starts there; else that "@" has none and the next "@" is tried.
    """
    out: list[str] = []
    done = 0  # end of the last match
    at = text.find("@")
    native = _native.NATIVE
    while at != -1:
        if native is not None:  # the same walk back, in C
            start = native.local_start(text, done, at)
        else:
            start = at
            while start > done and _LOCAL_CHAR.match(text, start - 1):
                start -= 1
        found = _EMAIL.match(text, start) if start < at else None
        if found is None:
            at = text.find("@", at + 1)
            continue
        out += (text[done:start], " emailaddress ")
        done = found.end()
        at = text.find("@", done)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _is_ip(host: str) -> bool:
    host = host.strip("[]")
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # neither IPv6 (has ":") nor IPv4 (digits and dots): no exception raised
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _bucket(count: int) -> str:
    return str(min(count, 5)) if count <= 5 else ("6-10" if count <= 10 else "many")


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What :func:`meta_tokens` and :func:`dense_features` both read of the links, worked out
    once: whether each of the first links' hosts is an IP address, whether any link's is, and
    the number of distinct registrable domains."""

    ip_first: tuple[bool, ...]
    any_ip: bool
    domains: int

    @classmethod
    def of(cls, msg: ParsedMessage) -> LinkFacts:
        urls = msg.urls
        first = tuple(_is_ip(url.host) for url in urls[:_MAX_URLS])
        any_ip = any(first) or any(_is_ip(url.host) for url in urls[_MAX_URLS:])
        return cls(first, any_ip, len({url.domain for url in urls}))


def meta_tokens(
    msg: ParsedMessage, attachments: bool = True, links: LinkFacts | None = None
) -> list[str]:
    """Link and attachment tokens ("dom:example.com", "tld:com", "att:type:application/pdf");
    ``links`` is :meth:`LinkFacts.of` ``msg`` when the caller has it already."""
    if links is None:
        links = LinkFacts.of(msg)
    tokens: list[str] = []
    for url, is_ip in zip(msg.urls[:_MAX_URLS], links.ip_first, strict=True):
        if is_ip:
            tokens.append("ip_link")
        else:
            domain = url.domain
            tokens += [f"dom:{domain}", f"tld:{domain.rsplit('.', 1)[-1]}"]
        tokens.append(f"scheme:{url.scheme}")
        path = url.url.split("://", 1)[-1].partition("/")[2].lower()
        if path:
            tokens += [f"path:{word}" for word in _PATH_WORD.findall(path)[:8]]
    tokens += [f"urls:{_bucket(len(msg.urls))}", f"domains:{_bucket(links.domains)}"]
    if not attachments:
        return tokens
    for att in msg.attachments:
        ext = (
            att.filename.rsplit(".", 1)[-1].lower()[:10]
            if att.filename and "." in att.filename
            else ""
        )
        tokens += [
            f"att:type:{att.detected_type.split(';', 1)[0].strip().lower()}",
            f"att:ext:{ext}",
        ]
    tokens.append(f"atts:{_bucket(len(msg.attachments))}")
    return tokens


#: ASCII letters and upper-case letters, deleted by ``bytes.translate`` to count them.
_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))


def upper_share(subject: str) -> float:
    """The share of the subject's letters that are upper case (0.0 without letters): the
    letters (``isalpha``) that are ``isupper``. An ASCII subject's are counted by two
    ``bytes.translate`` deletions (there the letters are A-Z and a-z, the upper case A-Z): the
    same whole counts, so the same quotient."""
    if subject.isascii():
        raw = subject.encode("ascii")
        letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        if not letters:
            return 0.0
        return (len(raw) - len(raw.translate(None, _ASCII_UPPER))) / letters
    subject_letters = [c for c in subject if c.isalpha()]
    if not subject_letters:
        return 0.0
    return sum(c.isupper() for c in subject_letters) / len(subject_letters)


def dense_features(
    msg: ParsedMessage, attachments: bool = True, links: LinkFacts | None = None
) -> list[float]:
    """A few numbers, each roughly within 0..1, in the order of :data:`DENSE_NAMES`;
    ``links`` is :meth:`LinkFacts.of` ``msg`` when the caller has it already."""
    if links is None:
        links = LinkFacts.of(msg)
    text = msg.text
    return [
        math.log1p(len(msg.urls)) / 5,
        math.log1p(links.domains) / 4,
        1.0 if links.any_ip else 0.0,
        math.log1p(len(msg.attachments)) / 3 if attachments else 0.0,
        math.log1p(len(text)) / 12,
        upper_share(msg.subject),
        min(msg.subject.count("!") + text.count("!", 0, 2000), 10) / 10,
        1.0 if not text or text.isspace() else 0.0,  # `not text.strip()`, no copy
    ]


@functools.cache
def hash_loop() -> HashLoop | None:
    """scikit-learn's compiled hashing loop (private; FeatureHasher is the fallback), or None.

    Imported on first use, not with this module: scikit-learn's import (scipy.stats with it)
    is most of a second, and a scan needs it only when the compiled helper
    (:mod:`mailward.classifier._native`) is not built or passes a text back; the CLI and the
    scan processes start without it."""
    try:
        from sklearn.feature_extraction._hashing_fast import (  # noqa: PLC0415 (see above)
            transform,
        )
    except ImportError:  # pragma: no cover - depends on the scikit-learn build
        return None
    loop: HashLoop = transform
    return loop


def _hash_fast(*args: Any) -> tuple[Any, Any, Any]:
    """:func:`hash_loop`'s loop, imported at the first call (given to the BlockHasher)."""
    loop = hash_loop()
    assert loop is not None  # Featurizer.row takes the general path without it
    return loop(*args)


def _hash_tokens(tokens: list[str], n_features: int) -> tuple[IntArray, FloatArray]:
    """(indices, l2-normalised counts) of ``tokens`` hashed as HashingVectorizer does.

    Signed 32-bit MurmurHash3 with seed 0, index ``abs(h) % n_features``, no alternate sign:
    the same columns as ``HashingVectorizer(alternate_sign=False)``. Uses scikit-learn's
    compiled hashing loop directly (the public transformers add about 1 ms of input checks per
    call, which is most of the time of one message); FeatureHasher is the fallback.
    """
    if not tokens:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
    loop = hash_loop()
    if loop is not None:
        # each token counted once, repeats summed below: the same sums as a Counter's
        indices, _, _ = loop([zip(tokens, repeat(1))], n_features, np.float32, False, 0)
        return _normalised(np.asarray(indices))
    from sklearn.feature_extraction import FeatureHasher  # noqa: PLC0415 (see hash_loop)

    hasher = FeatureHasher(n_features, input_type="string", alternate_sign=False)
    row = hasher.transform([tokens])
    return _normalised(np.asarray(row.indices), np.asarray(row.data, dtype=np.float64))


def _normalised(
    indices: npt.NDArray[Any], values: npt.NDArray[np.float64] | None = None
) -> tuple[IntArray, FloatArray]:
    """(sorted distinct columns, l2-normalised sums of ``values`` per column); without
    ``values`` each index counts 1, and the counts come from one sort (the same numbers as
    summing ones: whole numbers add up exactly in float64 in any order)."""
    if values is not None:
        unique, inverse = np.unique(indices, return_inverse=True)
        counts = np.bincount(inverse, weights=values)
    elif len(indices) <= _FEW:
        return _normalised_few(indices)
    else:
        ordered = np.sort(indices.astype(np.int32))  # columns fit: n_features < 2**31
        new = np.empty(len(ordered), dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        first = np.flatnonzero(new)
        unique = ordered[first]
        counts = np.empty(len(first), dtype=np.float64)
        np.subtract(first[1:], first[:-1], out=counts[:-1])
        counts[-1] = len(ordered) - first[-1]
    norm = float(np.sqrt(np.dot(counts, counts))) or 1.0
    return unique.astype(np.int32), (counts / norm).astype(np.float32)


#: Up to this many indices, :func:`_normalised` counts in Python (numpy's per-call cost is
#: most of the work for a few dozen link tokens).
_FEW = 64


def _normalised_few(indices: npt.NDArray[Any]) -> tuple[IntArray, FloatArray]:
    """:func:`_normalised` of a few indices, each counting 1, in Python: the same numbers (whole
    counts and their squares add up exactly; square root and division are correctly rounded
    in both; float64 to float32 rounds the same way)."""
    counts: dict[int, int] = {}
    for column in indices.tolist():
        counts[column] = counts.get(column, 0) + 1
    columns = sorted(counts)
    norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
    return (
        np.array(columns, dtype=np.int32),
        np.array([counts[c] / norm for c in columns], dtype=np.float64).astype(np.float32),
    )


def _hash_chars(analyzer: Any, doc: str, n_features: int) -> tuple[IntArray, FloatArray]:
    """The char_wb 3-5 gram block of ``doc``: hashed in one numpy pass
    (:mod:`mailward.classifier._charhash`, the same columns), else through ``analyzer``."""
    try:
        columns = hash_char_ngrams(doc, 3, 5, n_features)
    except UnicodeEncodeError:  # a lone surrogate: scikit-learn's own path says what happens
        return _hash_tokens(analyzer(doc), n_features)
    return _normalised(columns)


class Featurizer:
    """Turns messages into one sparse float32 row each (hashing: nothing to fit).

    Blocks, each l2-normalised on its own, side by side: word 1-2 grams (accents stripped,
    lower-case), char_wb 3-5 grams, link/attachment tokens, then the dense numbers.
    :meth:`row` hashes and counts them in few calls (:mod:`mailward.classifier._fastrow`; in
    one call of the compiled helper, when built, for ASCII text);
    :meth:`reference_row` the general way, with scikit-learn's analyzers: the same row.
    """

    def __init__(self, spec: FeatureSpec | None = None) -> None:
        self.spec = spec or FeatureSpec()
        self._grams = WordGrams()
        self._words = self._grams.grams
        self._dense_at = self.spec.n_features - len(self.spec.dense_names)
        self._dense_columns = np.arange(self._dense_at, self.spec.n_features, dtype=np.int32)
        self._fast: BlockHasher | None = None
        #: the dense block's columns as native int32 bytes
        self._dense_bytes = self._dense_columns.tobytes()

    @functools.cached_property
    def _chars(self) -> Any:
        """scikit-learn's char_wb 3-5 gram analyzer (the general path's; built on first use)."""
        from sklearn.feature_extraction.text import (  # noqa: PLC0415 (see hash_loop)
            HashingVectorizer,
        )

        return HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()

    def row(self, msg: ParsedMessage) -> tuple[IntArray, FloatArray]:
        """One message's row: (column indices, values), blocks in column order.

        Without the compiled hashing loop, the general path. The loop (scikit-learn) is looked
        for only when the compiled helper is not built, or passes a text back."""
        if self._fast is None:
            if _native.NATIVE is None and hash_loop() is None:
                return self.reference_row(msg)
            spec = self.spec
            sizes = (spec.word_features, spec.char_features, spec.meta_features)
            self._fast = BlockHasher(sizes, _hash_fast, _native.NATIVE)
        doc = body_text(msg)
        attachments = self.spec.attachment_features
        links = LinkFacts.of(msg)
        meta = meta_tokens(msg, attachments, links)
        fast = self._fast
        try:
            done = fast.native_row(doc, CHAR_CHARS, meta, self._grams)
            if done is None:
                if hash_loop() is None:  # no compiled hashing loop: the general path
                    return self.reference_row(msg)
                indices, values = fast.token_row(doc, CHAR_CHARS, meta, self._grams)
        except UnicodeEncodeError:  # a lone surrogate: the general path says what happens
            return self.reference_row(msg)
        numbers = self._dense_numbers(msg, links)
        if done is not None:  # the compiled helper's bytes: the dense block joined as bytes
            # (array("f") rounds each float to float32 as np.array(..., float32) does)
            return (
                np.frombuffer(done[0] + self._dense_bytes, dtype=np.int32),
                np.frombuffer(done[1] + array("f", numbers).tobytes(), dtype=np.float32),
            )
        return (
            np.concatenate((indices, self._dense_columns)),
            np.concatenate((values, np.array(numbers, dtype=np.float32))),
        )

    def _dense_numbers(self, msg: ParsedMessage, links: LinkFacts | None = None) -> list[float]:
        numbers = dense_features(msg, self.spec.attachment_features, links)
        if self.spec.identity_features:
            numbers += identity.analyse(msg, identity.shipped_registry()).features()
        return numbers

    def _dense(self, msg: ParsedMessage) -> FloatArray:
        return np.array(self._dense_numbers(msg), dtype=np.float32)

    def reference_row(self, msg: ParsedMessage) -> tuple[IntArray, FloatArray]:
        """:meth:`row` the general way: each block hashed and normalised on its own."""
        spec = self.spec
        doc = body_text(msg)
        blocks = [
            (0, _hash_tokens(self._words(doc), spec.word_features)),
            (spec.word_features, _hash_chars(self._chars, doc[:CHAR_CHARS], spec.char_features)),
            (spec.word_features + spec.char_features,
             _hash_tokens(meta_tokens(msg, spec.attachment_features), spec.meta_features)),
        ]  # fmt: skip
        indices = [idx + offset for offset, (idx, _) in blocks]
        values = [val for _, (_, val) in blocks]
        indices.append(self._dense_columns)
        values.append(self._dense(msg))
        return np.concatenate(indices).astype(np.int32), np.concatenate(values)

    def transform(self, messages: Sequence[ParsedMessage]) -> sp.csr_matrix:
        import scipy.sparse as sp  # noqa: PLC0415 (training and batches only: 0.1 s to import)

        rows = [self.row(m) for m in messages]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(idx) for idx, _ in rows])
        indices = np.concatenate([idx for idx, _ in rows]) if rows else np.empty(0, np.int32)
        data = np.concatenate([val for _, val in rows]) if rows else np.empty(0, np.float32)
        shape = (len(rows), self.spec.n_features)
        return sp.csr_matrix((data, indices, indptr), shape=shape, dtype=np.float32)

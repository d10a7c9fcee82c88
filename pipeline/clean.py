"""The clean step: bytes of one format -> clean text plus metadata.

HTML by trafilatura, PDF by pypdf, plain text with a line-level boilerplate filter.
Which of these reads a source, and how it splits into documents, is its source type's
choice (``pipeline.source_types``); this module only cleans.

Every format ends in the same place: text that went through ``normalise_text`` (one
Unicode form, one kind of space, no invisible characters) so that the NLP stages, the
content hashes and the character offsets stored with every derived row see one stable
string. What cannot become a usable document raises ``RejectedContent`` with a reason a
user can act on; it is recorded as a skip, never retried.

Boilerplate rules are data (``resources/boilerplate.json``), not code, so that they can
be extended without touching this module. ``bench/clean_eval.py`` scores the HTML path
against a gold benchmark; rerun it after every change here and bump ``CLEAN_VERSION``
whenever the output of any function below can change.
"""

from __future__ import annotations

import codecs
import functools
import html
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from typing import Any

from pipeline.config import CleanConfig
from pipeline.errors import RejectedContent
from pipeline.rules import load_json

CLEAN_VERSION = "clean-3"  # 3: each document's language

NO_TEXT_LAYER = "PDF has no text layer (scanned image?); OCR it first"

# --------------------------------------------------------------------------- text

_LINE_BREAKS = re.compile(r"\r\n?|[\u0085\u2028\u2029]")
_ODD_SPACES = re.compile(r"[\t\v\f\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# "8 130 won" printed with a no-break or thin space: one number, so the space stays one
# narrow no-break space, which the number layer reads as a thousands separator.
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}(?!\d))")
_ESCAPED_QUOTE = re.compile(r"\\+(['\"])")
_SPACE_RUN = re.compile(r" {2,}")
_BLANK_RUN = re.compile(r"\n{3,}")
_INVISIBLE = frozenset({"Cc", "Cf"})  # control and format characters (zero-width, bidi, BOM)


_ASCII_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@functools.cache
def _invisible_table() -> dict[int, None]:
    """str.translate table deleting every control and format character but the line break (built once)."""
    return {code: None for code in range(sys.maxunicode + 1)
            if code != 10 and unicodedata.category(chr(code)) in _INVISIBLE}


def _strip_invisible(text: str) -> str:
    """Drop control and zero-width/format characters: they split words for spaCy
    and make equal texts hash differently, yet carry no reading content."""
    if text.isascii():
        return _ASCII_CONTROLS.sub("", text)
    return text.translate(_invisible_table())


def _is_group_space(text: str, at: int) -> bool:
    return text[at] == "\u202f" and _DIGIT_GROUP_SPACE.match(text, at) is not None


def _normalise_once(text: str) -> str:
    text = html.unescape(text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _DIGIT_GROUP_SPACE.sub("\u202f", text)
    text = _ODD_SPACES.sub(lambda m: m.group(0) if _is_group_space(text, m.start()) else " ", text)
    text = _strip_invisible(text)
    text = unicodedata.normalize("NFC", text)
    text = _ESCAPED_QUOTE.sub(r"\1", text)  # `Workers\' Party`: PHP-escaped quotes in copied pages
    text = _SPACE_RUN.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", text).strip()


def normalise_text(text: str) -> str:
    """One canonical form for any text: entities decoded, NFC, plain spaces, no
    invisible characters, trimmed lines, at most one blank line in a row.

    Applied until nothing changes (at most a few passes) so the function is
    idempotent: a double-escaped ``&amp;amp;`` or an entity split by a zero-width
    character would otherwise change again on the next call, and the text hash with it.
    """
    for _ in range(8):
        cleaned = _normalise_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


# -------------------------------------------------------------------- boilerplate


@dataclass(frozen=True)
class _BoilerplateRules:
    line: re.Pattern[str]
    comment_marker: re.Pattern[str]
    breadcrumb_roots: frozenset[str]
    max_line_chars: int


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@functools.cache
def _rules() -> _BoilerplateRules:
    """Load the boilerplate rules once per process."""
    data = load_json("boilerplate.json")
    return _BoilerplateRules(
        line=_alternation(data["line_patterns"]),
        comment_marker=_alternation(data["comment_markers"]),
        breadcrumb_roots=frozenset(r.casefold() for r in data["breadcrumb_roots"]),
        max_line_chars=int(data["max_line_chars"]),
    )


_QUOTES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201b": "'", "`": "'", "\u00b4": "'",
     "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
     "\u2013": "-", "\u2014": "-", "\\": None}
)  # fmt: skip
_LONE_COUNTER = re.compile(r"[^\w|]*\d{0,3}[^\w|]*")
_BREADCRUMB_SEPARATOR = re.compile(r"\s+[»›>/|·]\s+|\s*[»›]\s*")
_MIN_DUPLICATE_CHARS = 20  # short lines (bullets, "Yes.", table cells) repeat legitimately


def _line_key(line: str) -> str:
    """How a line compares to others: the same line copied twice often differs only in
    its quote style (``\\'`` vs ``’``) or spacing, so both are flattened."""
    return " ".join(line.translate(_QUOTES).split()).casefold()


_BULLETS = "-*•·▪►> "


def _is_pattern_line(key: str, rules: _BoilerplateRules) -> bool:
    """Whole-line match, bullets ignored: share and print buttons are often list items."""
    if len(key) > rules.max_line_chars:
        return False
    return rules.line.fullmatch(key.lstrip(_BULLETS)) is not None


def _is_breadcrumb(first: str, following: str, rules: _BoilerplateRules) -> bool:
    """A breadcrumb trail: starts at a root word such as "Home" and is a lone root
    word, a trail cut short by the theme ("..."), short nav words between separators
    ("Home » World » Asia"), or a few section words followed by (a prefix of) the
    title on the next line, as when the separators were icons lost in copying."""
    words = first.split()
    if not words or words[0].strip("»›>/|:").casefold() not in rules.breadcrumb_roots:
        return False
    if len(words) == 1 or first.endswith(("...", "…")):
        return True
    segments = [segment.strip() for segment in _BREADCRUMB_SEPARATOR.split(first)]
    if len(segments) > 1 and segments[0].casefold() in rules.breadcrumb_roots:
        return all(1 <= len(segment.split()) <= 4 for segment in segments[1:-1])
    title_key = _line_key(following)
    for skip in range(2, min(5, len(words))):
        tail = _line_key(" ".join(words[skip:]))
        if len(tail) >= 10 and title_key.startswith(tail):
            return True
    return False


def _is_lone_counter(line: str) -> bool:
    """A lone "0" or "•": comment counters and icons that lost their context."""
    return len(line) <= 6 and _LONE_COUNTER.fullmatch(line) is not None


def _trailing_form_start(lines: list[str], rules: _BoilerplateRules) -> int:
    """Index where a trailing comment form begins, or len(lines) if there is none.

    Only a marker in the second half of the text counts: there it opens the
    comment area, earlier it could be a heading of the article itself."""
    total = sum(len(line) + 1 for line in lines)
    offset = 0
    for index, line in enumerate(lines):
        key = _line_key(line)
        if offset * 2 >= total and key and rules.comment_marker.fullmatch(key):
            return index
        offset += len(line) + 1
    return len(lines)


def _drop_breadcrumb(lines: list[str], rules: _BoilerplateRules) -> list[str]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return lines
    first = content[0]
    following = lines[content[1]] if len(content) > 1 else ""
    return lines[first + 1 :] if _is_breadcrumb(lines[first], following, rules) else lines


def remove_boilerplate_lines(text: str) -> str:
    """Drop the page furniture that survives copy-paste or extraction, line by line.

    Removed: lines matching the data-driven patterns (share buttons, "Related
    posts", comment prompts...), a breadcrumb first line, lone counters, a line
    repeating one of the previous three (a caption printed twice: the first stays),
    and a trailing comment form. Article paragraphs are never touched: patterns
    only apply to short lines and match whole lines.
    """
    rules = _rules()
    lines = _drop_breadcrumb(text.split("\n"), rules)
    lines = lines[: _trailing_form_start(lines, rules)]
    kept: list[str] = []
    recent: list[str] = []
    for line in lines:
        key = _line_key(line)
        if not key:
            kept.append("")
            continue
        if _is_pattern_line(key, rules) or _is_lone_counter(key):
            continue
        if len(key) >= _MIN_DUPLICATE_CHARS and "|" not in key and key in recent:
            continue
        kept.append(line)
        recent = (recent + [key])[-3:]
    return _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip()


# ----------------------------------------------------------------------- decoding

# WHATWG maps these labels to supersets; browsers decode them that way and so do pages.
_CHARSET_SUPERSETS = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "iso-8859-9": "cp1254", "shift_jis": "cp932", "shift-jis": "cp932",
    "sjis": "cp932", "x-sjis": "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030", "gbk": "gb18030", "tis-620": "cp874", "iso-8859-11": "cp874",
    "big5": "big5hkscs",
}  # fmt: skip
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.IGNORECASE,
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _codec(label: str | None) -> str | None:
    """A Python codec for a charset label, or None if the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _CHARSET_SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return (match.group(1) or match.group(2)).decode("ascii", "replace") if match else None


def decode_text(body: bytes, charset: str | None = None, *, sniff_meta: bool = False) -> str:
    """Bytes -> str. Order: BOM, valid UTF-8, the declared charset (HTTP header, then a
    <meta> tag when ``sniff_meta``), then statistical detection.

    Valid UTF-8 wins over a declared legacy charset because servers and templates
    often declare ISO-8859-1 for UTF-8 pages, while legacy-encoded text with any
    non-ASCII byte is practically never valid UTF-8. A declared UTF-8 that does not
    decode is a wrong declaration, so the next clue is tried.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    meta = _codec(_meta_charset(body)) if sniff_meta else None
    declared = [codec for codec in (_codec(charset), meta) if codec]
    wide = next((c for c in declared if c.startswith(("utf-16", "utf-32"))), None)
    if wide:
        return body.decode(wide, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = body.decode("utf-8", errors="replace")
    if _mostly_utf8(lenient):  # a stray bad byte in a UTF-8 page: one replacement, not a wrong codec for all
        return lenient
    legacy = next((c for c in declared if c != "utf-8"), None)
    return body.decode(legacy, errors="replace") if legacy else _detect_and_decode(body)


def _mostly_utf8(lenient: str) -> bool:
    """Whether text decoded as UTF-8 with replacement is UTF-8 with rare bad bytes: many valid non-ASCII
    characters for each replacement. Legacy-encoded text (cp1251, EUC-KR) yields almost none."""
    bad = lenient.count("\ufffd")
    valid = sum(1 for ch in lenient if ch > "\x7f") - bad
    return valid >= 20 * bad


def _detect_and_decode(body: bytes) -> str:
    from charset_normalizer import from_bytes

    sample = body if len(body) <= 20_000 else body[:10_000] + body[-10_000:]
    best = from_bytes(sample).best()
    codec = _codec(best.encoding) if best else None
    return body.decode(codec or "utf-8", errors="replace")


# ------------------------------------------------------------------- plain text

_TITLE_END = (".", ",", ";", ":")


def _plain_title(text: str) -> str | None:
    """The first substantial line (4+ words: a site name such as "Sejong Policy
    Briefs" is not one) if it reads like a title: short, without a final period."""
    for line in text.split("\n"):
        words = line.split()
        if len(words) < 4:
            continue
        looks_like_title = len(line) <= 200 and len(words) <= 30 and not line.endswith(_TITLE_END)
        return line if looks_like_title else None
    return None


def clean_plain_text(body: bytes, *, charset: str | None) -> tuple[str, str | None]:
    """Plain text copied from a page or a report: decode, normalise, drop boilerplate.

    The title line stays in the text: it is only a guess here, and a wrong guess
    must not cost the document its first line.
    """
    text = remove_boilerplate_lines(normalise_text(decode_text(body, charset)))
    return text, _plain_title(text)


# --------------------------------------------------------------------------- HTML


def _extract(markup: str, url: str | None, config: CleanConfig, *, precise: bool) -> Any:
    """One trafilatura run with every option explicit, so an upgrade of its defaults
    cannot silently change our output."""
    import trafilatura

    return trafilatura.bare_extraction(
        markup,
        url=url,
        favor_precision=precise,
        favor_recall=False,
        include_comments=config.include_comments,
        include_tables=config.include_tables,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,  # trafilatura's cache is process-wide: results would depend on order
        with_metadata=True,
        target_language=None,
    )


def _html_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def clean_field(value: Any) -> str | None:
    return normalise_text(value) or None if isinstance(value, str) else None


def _html_metadata(document: Any) -> dict[str, Any]:
    return {
        "title": clean_field(getattr(document, "title", None)),
        "author": clean_field(getattr(document, "author", None)),
        "published": _html_date(getattr(document, "date", None)),
        "sitename": clean_field(getattr(document, "sitename", None)),
    }


_TITLE_SUFFIX = re.compile(r"\s+(?:[|–—-]|::)\s+[^|–—-]{1,60}$")
_WORD = re.compile(r"\w+")
_TITLE_WINDOW = 3  # templates print the headline first, or after a dateline or kicker
_TITLE_SIMILARITY = 0.6


def _is_title_repeat(line: str, title: str) -> bool:
    """Whether ``line`` is the headline again: the title itself (with or without a
    " | Site" suffix) or a heading sharing most of its words, as when <h1> and
    og:title word the same headline differently. A sentence (final period) never is."""
    key = _line_key(line)
    if key in {_line_key(title), _line_key(_TITLE_SUFFIX.sub("", title))}:
        return True
    if line.endswith(".") or len(line) > 200:
        return False
    words, title_words = set(_WORD.findall(key)), set(_WORD.findall(_line_key(title)))
    union = words | title_words
    return bool(union) and len(words & title_words) / len(union) >= _TITLE_SIMILARITY


def _drop_title_line(text: str, title: str | None) -> str:
    """Drop the headline from the top of the body: it is kept as metadata, and some
    templates print it inside the article while most do not."""
    if not title or not text:
        return text
    lines = text.split("\n")
    content = [i for i, line in enumerate(lines) if line][:_TITLE_WINDOW]
    for index in content:
        if _is_title_repeat(lines[index], title):
            del lines[index]
            return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()
    return text


_TAG = re.compile(r"<[^<>]*>")
_HIDDEN = {"<script": "</script>", "<style": "</style>", "<!--": "-->"}  # blocks whose content is not read
VISIBLE_SCAN_CHARS = 2_000_000


def _visible_chars(markup: str) -> int:
    """About how many characters of the page a reader sees: tags, scripts, styles and comments left
    out. Linear in the markup (each opener's next place is looked up again only once passed), so a page
    full of unclosed "<" costs no more than any other."""
    text = markup[:VISIBLE_SCAN_CHARS]
    lowered = text.lower()
    upcoming = {opener: lowered.find(opener) for opener in _HIDDEN}
    pieces, pos = [], 0
    while True:
        for opener, at in upcoming.items():
            if 0 <= at < pos:
                upcoming[opener] = lowered.find(opener, pos)
        found = [(at, opener) for opener, at in upcoming.items() if at >= 0]
        if not found:
            pieces.append(text[pos:])
            break
        start, opener = min(found)
        pieces.append(text[pos:start])
        end = lowered.find(_HIDDEN[opener], start)
        if end < 0:
            break  # never closed: the rest is script, style or comment
        pos = end + len(_HIDDEN[opener])
    return len(" ".join(_TAG.sub(" ", "".join(pieces)).split()))


_CANONICAL_TAG = re.compile(r"<link\b[^<>]*\brel\s*=\s*[\"']?canonical\b[^<>]*>", re.I)
_HREF = re.compile(r"\bhref\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)


def _canonical_link(markup: str) -> str | None:
    """The page's <link rel="canonical"> address (og:url is not trusted: sites often point it at their home page)."""
    tag = _CANONICAL_TAG.search(markup, 0, 200_000)
    href = _HREF.search(tag.group(0)) if tag else None
    return next((g for g in href.groups() if g), None) if href else None


def _suspiciously_short(text: str, markup: str, config: CleanConfig) -> bool:
    """Whether precision mode's text is so short beside the page's visible text that it may have kept a
    footer instead of the article: only then is trafilatura run a second time (balanced), so most pages
    cost one run."""
    if len(text) >= config.precision_recheck_chars:
        return False
    return len(text) < config.precision_recheck_ratio * _visible_chars(markup)


def clean_html(
    body: bytes, *, url: str | None, config: CleanConfig, charset: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Main text and metadata of an HTML page (keys: title, author, published, sitename).

    The bytes are decoded here (HTTP ``charset``, else <meta charset>) because
    trafilatura ignores <meta charset> and guesses, which fails on short legacy pages.
    Precision mode sometimes drops the whole article and keeps a footer; when its text is
    short beside the page's visible text, a balanced extraction is made too, and used when the
    precision text is far shorter than it.
    """
    markup = _XML_DECLARATION.sub("", decode_text(body, charset, sniff_meta=True), count=1)
    document = _extract(markup, url, config, precise=config.favor_precision)
    text = (document.text if document else None) or ""
    if config.favor_precision and config.precision_fallback_ratio > 0 and _suspiciously_short(text, markup, config):
        balanced = _extract(markup, url, config, precise=False)
        balanced_text = (balanced.text if balanced else None) or ""
        if len(text) < config.precision_fallback_ratio * len(balanced_text):
            text, document = balanced_text, document or balanced
    metadata = {**_html_metadata(document), "canonical": _canonical_link(markup)}
    text = _drop_title_line(normalise_text(text), metadata["title"])
    return remove_boilerplate_lines(text), metadata


# ---------------------------------------------------------------------------- PDF


def _open_pdf(body: bytes) -> Any:
    from pypdf import PdfReader

    try:
        reader = PdfReader(BytesIO(body), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedContent("PDF is encrypted with a password; decrypt it first")
        _ = len(reader.pages)
    except RejectedContent:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise RejectedContent(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    return reader


def _page_text(page: Any) -> str:
    """Text of one page; a broken page yields nothing rather than losing the document."""
    try:
        return page.extract_text() or ""
    except Exception:
        return ""


_HYPHEN_BREAK = re.compile(r"(\w)[-\u2010]\n(\w)")
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ \t]*(?:\r\n|\r|\n)")


def _rejoin_hyphenated(text: str) -> str:
    """"inter-\\nnational" -> "international"; only before a lowercase letter, since
    "North-\\nKorea" is more likely a real hyphen than a split word."""
    return _HYPHEN_BREAK.sub(lambda m: m[1] + m[2] if m[2].islower() else m[0], text)


def _pdf_info(reader: Any, name: str) -> Any:
    """One field of the PDF info dictionary; malformed values (a bad "D:..." date,
    a broken reference) count as missing rather than failing the document."""
    try:
        return getattr(reader.metadata, name, None) if reader.metadata else None
    except Exception:
        return None


def _pdf_metadata(reader: Any) -> dict[str, Any]:
    created = _pdf_info(reader, "creation_date")
    return {
        "title": clean_field(_pdf_info(reader, "title")),
        "author": clean_field(_pdf_info(reader, "author")),
        "published": created.date() if isinstance(created, datetime) else None,
        "sitename": None,
    }


def clean_pdf(body: bytes) -> tuple[str, dict[str, Any]]:
    """Text of every page of a PDF plus its info metadata (title, author, published)."""
    reader = _open_pdf(body)
    raw = "\n\n".join(_page_text(page) for page in reader.pages)
    text = _rejoin_hyphenated(normalise_text(_SOFT_HYPHEN_BREAK.sub("-\n", raw)))
    if not any(ch.isalnum() for ch in text):
        raise RejectedContent(NO_TEXT_LAYER)
    return text, _pdf_metadata(reader)


# ----------------------------------------------------------------- what it is

_MAGIC_NAMES = (
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xd0\xcf\x11\xe0", "legacy Office document"),
    (b"7z\xbc\xaf", "7z archive"),
    (b"Rar!", "RAR archive"),
    (b"RIFF", "RIFF media"),
    (b"OggS", "Ogg media"),
    (b"wOF", "web font"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


def binary_reason(head: bytes) -> str | None:
    """Why ``head`` is not text, or None. NUL bytes or many control bytes mean binary;
    text never has them, except UTF-16/32, which must then start with a BOM."""
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return None
    controls = sum(1 for byte in head if byte < 32 and byte not in _TEXT_CONTROLS)
    if b"\x00" not in head and controls <= 0.02 * len(head):
        return None
    name = next((n for magic, n in _MAGIC_NAMES if head.startswith(magic)), None)
    return f"binary content ({name}, not a text document)" if name else (
        "binary content (not a text document)"
    )


def looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(_HTML_STARTS):
        return True
    return start.startswith((b"<?xml", b"<!--", b"<meta", b"<!doctype")) and (
        b"<html" in start or b"<body" in start
    )


def looks_like_json_list(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")

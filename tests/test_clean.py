"""Tests of the clean stage (pipeline/clean.py) on the shared seeds, built inputs and
one page of the extraction benchmark."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import random
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import (
    NO_TEXT_LAYER,
    clean_html,
    clean_pdf,
    clean_plain_text,
    normalise_text,
    remove_boilerplate_lines,
)
from pipeline.source_types import split_source as clean_source
from pipeline.source_types.kcna_archive import DUPLICATE_LINK, EMPTY_STORY, clean_kcna_archive
from pipeline.config import CleanConfig
from pipeline.errors import RejectedContent
from pipeline.records import Fetched

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_000 = SHARED / "seeds" / "000_f097f9237f64d457.txt"
SEED_004 = SHARED / "seeds" / "004_ac8b9aa3b2848aff.txt"
BENCHMARK = SHARED / "data" / "extraction-benchmark"
KCNA_ARCHIVE = SHARED / "data" / "kcna" / "headlines_2024-11-11.json"

TITLE_000 = "Kim Jong Un’s Foreign Engagements: What This Means for North Korea’s Global Strategy"
CAPTION_000 = "On September 3 last year, Kim Jong Un, General Secretary of the Workers"
CONFIG = CleanConfig()


def fetched(body: bytes | None, content_type: str | None = None, charset: str | None = None) -> Fetched:
    return Fetched(
        url="https://example.org/a",
        not_modified=False,
        body=body,
        content_type=content_type,
        charset=charset,
        etag=None,
        last_modified=None,
        http_status=200,
        content_hash=None,
    )


@pytest.fixture(scope="module")
def seed_000() -> tuple[str, str | None]:
    return clean_plain_text(SEED_000.read_bytes(), charset=None)


# ------------------------------------------------------------------ seed 000


@pytest.mark.parametrize(
    "boilerplate",
    [
        "NO COMMENTS",
        "LEAVE A REPLY",
        "Please enter your comment!",
        "Please enter your name here",
        "Exit mobile version",
        "Home NorthKorea",
        "Global...",
    ],
)
def test_clean_seed_000_boilerplate_lines_removed(seed_000, boilerplate):
    text, _ = seed_000
    assert boilerplate not in text


def test_clean_seed_000_lone_counter_removed(seed_000):
    text, _ = seed_000
    assert "0" not in text.split("\n")


def test_clean_seed_000_duplicated_captions_kept_once(seed_000):
    text, _ = seed_000
    assert text.count(CAPTION_000) == 1
    assert text.count("Provided by Asan Institute for Policy Studies") == 1
    # the copy kept is the first one, its escaped quote repaired
    assert "General Secretary of the Workers' Party of Korea, attended" in text


def test_clean_seed_000_starts_with_title_line(seed_000):
    text, title = seed_000
    assert title == TITLE_000
    assert text.split("\n")[0] == TITLE_000
    assert text.split("\n\n")[1].startswith(CAPTION_000)


@pytest.mark.parametrize(
    "sentence",
    [
        "Reports on February 7 confirmed that Kim Jong Un",
        "51 military events (53 in 2024), 37 economic events (28), 34 political events (28), "
        "26 foreign engagements (11), and 5 social events (10).",
        "rose from about 70 in 2021 to approximately 100 in both 2022 and 2023",
        "there were 8 events related to Russia, 5 to China, 4 to Laos and Vietnam",
        "However, the pace of restoring North Korea-China relations appears slow.",
        "it would be more effective to focus on changing the external circumstances that "
        "North Korea perceives as advantageous.",
    ],
)
def test_clean_seed_000_article_sentences_kept(seed_000, sentence):
    text, _ = seed_000
    assert sentence in text


def test_clean_seed_000_every_paragraph_kept(seed_000):
    text, _ = seed_000
    raw = normalise_text(SEED_000.read_text("utf-8"))
    paragraphs = [line for line in raw.split("\n") if line.endswith(".") and not line.endswith("...")]
    assert len(paragraphs) == 9
    for paragraph in paragraphs:
        assert text.count(paragraph) == 1
    assert text.endswith("that North Korea perceives as advantageous.")


# ------------------------------------------------------------------ seed 004


def test_clean_seed_004_unchanged_in_substance():
    raw = SEED_004.read_bytes()
    text, title = clean_plain_text(raw, charset=None)
    assert text == normalise_text(raw.decode("utf-8"))
    assert title.startswith("(Brief 2025-30) North Korea’s Domestic and External Policy Outlook")
    assert "the dollar exchange rate surged beyond 30,000 won and into the 40,000-won range" in text
    assert "ej0717@sejong.org" in text


# ---------------------------------------------------------------- normalise


def test_clean_normalise_decodes_entities():
    assert normalise_text("Kim&#8217;s visit &amp; talks&nbsp;today") == "Kim’s visit & talks today"


def test_clean_normalise_nfc():
    text = normalise_text("Pyo\u0308ngyang caf\u0065\u0301")
    assert text == "Pyöngyang café"
    assert unicodedata.is_normalized("NFC", text)


def test_clean_normalise_spaces_invisible_and_blank_lines():
    raw = "  Kim\u00a0Jong\u2009Un\u200b visited\t\tthe\x07 site  \r\n\r\n\r\n\n  Next\u2028line  "
    assert normalise_text(raw) == "Kim Jong Un visited the site\n\nNext\nline"


def test_clean_normalise_keeps_digit_group_spaces_as_one_narrow_space():
    raw = "8\u00a0130 won, 1\u2009000\u202f000 tons, 12\u00a01234 and 3\u00a0km"
    assert normalise_text(raw) == "8\u202f130 won, 1\u202f000\u202f000 tons, 12 1234 and 3 km"


_TRICKY = st.sampled_from(
    ["&amp;", "&amp;amp;", "&#8217;", "&nbsp;", "&", "#", ";", "\u200b", "\u00ad", "\r\n", "\r",
     "\n\n\n", "  ", "\t", "1\u00a0000", "\u202f", "e\u0301", "\u0958", "\\'", "\\\\", "\u2028", "\x00", " \n "]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), _TRICKY), max_size=20).map("".join))
def test_clean_normalise_is_idempotent(raw):
    once = normalise_text(raw)
    assert normalise_text(once) == once


# -------------------------------------------------------------- boilerplate


@pytest.mark.parametrize(
    "crumb",
    ["Home » World » Asia", "Home > News > North Korea", "Home", "Home Politics Kim visits Beijing for..."],
)
def test_clean_boilerplate_breadcrumb_first_line_removed(crumb):
    text = f"{crumb}\n\nKim visits Beijing for talks with Xi\n\nKim Jong Un arrived in Beijing on Monday."
    assert remove_boilerplate_lines(text).startswith("Kim visits Beijing for talks with Xi")


@pytest.mark.parametrize("first", ["Home prices rise 5% / year in Seoul", "Home Sweet Home: a film review"])
def test_clean_boilerplate_first_line_starting_with_home_kept(first):
    text = f"{first}\n\nKim visits Beijing for talks with Xi"
    assert remove_boilerplate_lines(text) == text


def test_clean_boilerplate_breadcrumb_without_truncation_matches_title_prefix():
    text = "Home NorthKorea Kim visits Beijing\nKim visits Beijing for talks with Xi\nBody text here."
    assert remove_boilerplate_lines(text).startswith("Kim visits Beijing for talks")


def test_clean_boilerplate_keeps_article_lines_that_resemble_it():
    text = (
        "Home prices in Pyongyang rose sharply in 2025, traders said.\n"
        "Comments by officials were rare.\n"
        "Yes.\nYes.\n"
        "| 2024 | 130 |\n| 2024 | 130 |\n"
        "Share prices fell."
    )
    assert remove_boilerplate_lines(text) == text


def test_clean_boilerplate_trailing_comment_form_removed():
    article = "\n\n".join(f"Paragraph {i} of the article about the party congress." for i in range(6))
    text = f"{article}\n\n3 Comments\n\nGreat article, thanks for writing it up in detail!\n\nAdd your comment"
    assert remove_boilerplate_lines(text) == article


# --------------------------------------------------------------------- HTML


def _scorer():
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCHMARK / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clean_html_benchmark_page_overlaps_ground_truth():
    key = "042bb7b5fedab6eac7db576522b89b93904c237d344bcbe14a6a5ab7f7335856"
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text("utf-8"))[key]
    body = gzip.decompress((BENCHMARK / "html" / f"{key}.html.gz").read_bytes())
    text, metadata = clean_html(body, url=truth["url"], config=CONFIG)
    tp, fp, fn = _scorer().string_shingle_matching(true=truth["articleBody"], pred=text)
    assert 2 * tp / (2 * tp + fp + fn) >= 0.9
    assert metadata["title"]


def _page(charset: str, title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title>'
        f'<meta property="article:published_time" content="2024-11-11T08:00:00Z"></head>'
        f"<body><nav><a href='/'>Главная</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


RUSSIAN = [
    "Пхеньян провёл военный парад в честь годовщины основания армии.",
    "Северная Корея показала новые ракеты и бронетехнику на площади Ким Ир Сена.",
    "Иностранные дипломаты наблюдали за парадом с трибуны.",
]


def test_clean_html_windows_1251_decodes_cyrillic():
    body = _page("windows-1251", "Парад в Пхеньяне", RUSSIAN).encode("cp1251")
    text, metadata = clean_html(body, url="https://example.org/ru", config=CONFIG)
    assert metadata["title"] == "Парад в Пхеньяне"
    assert text == "\n".join(RUSSIAN)  # headline dropped from the body: it is the title
    assert metadata["published"] == date(2024, 11, 11)


def test_clean_html_xhtml_with_xml_declaration_and_legacy_encoding():
    page = _page("windows-1251", "Парад в Пхеньяне", RUSSIAN).replace(
        "<!DOCTYPE html>", '<?xml version="1.0" encoding="windows-1251"?>\n<!DOCTYPE html>'
    )
    text, _ = clean_html(page.encode("cp1251"), url=None, config=CONFIG)
    assert text == "\n".join(RUSSIAN)


def test_clean_html_http_charset_beats_guessing():
    page = _page("", "Парад", RUSSIAN).replace('<meta charset="">', "")
    text, _ = clean_html(page.encode("cp1251"), url=None, config=CONFIG, charset="windows-1251")
    assert RUSSIAN[0] in text


def test_clean_html_shift_jis_decodes_japanese():
    paragraphs = ["北朝鮮は本日、弾道ミサイルを日本海に向けて発射した。", "防衛省は情報の収集と分析を急いでいる。"]
    body = _page("Shift_JIS", "ミサイル発射", paragraphs).encode("shift_jis")
    text, metadata = clean_html(body, url=None, config=CONFIG)
    assert text == "\n".join(paragraphs)
    assert metadata["title"] == "ミサイル発射"


# --------------------------------------------------------------------- PDF


def _pdf_with_text(lines: list[str]) -> bytes:
    """A one-page PDF with a Helvetica text layer and an info dictionary, xref included."""
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Title (Policy Brief 2025-30) /Author (Eunju Choi) /CreationDate (D:20251119093000Z) >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return out


def test_clean_pdf_extracts_text_and_metadata():
    body = _pdf_with_text(["North Korea expanded inter-", "national cooperation in 2025.", "Rates rose."])
    text, metadata = clean_pdf(body)
    assert "North Korea expanded international cooperation in 2025." in text.replace("\n", " ")
    assert "Rates rose." in text
    assert metadata["title"] == "Policy Brief 2025-30"
    assert metadata["author"] == "Eunju Choi"
    assert metadata["published"] == date(2025, 11, 19)


def test_clean_pdf_without_text_layer_rejected():
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(RejectedContent) as caught:
        clean_pdf(buffer.getvalue())
    assert caught.value.reason == NO_TEXT_LAYER


def test_clean_pdf_invalid_bytes_rejected():
    with pytest.raises(RejectedContent, match="not a readable PDF"):
        clean_pdf(b"%PDF-1.4\nthis is not really a PDF")


# -------------------------------------------------------------------- KCNA


def _item(link: str, text: str, headline: str = "Kim Jong Un Inspects Factory", millis: int = 1703376000000):
    return {
        "topic": "WPK General Secretary Kim Jong Un's Revolutionary Activities",
        "headline": headline,
        "link": link,
        "date": millis,
        "date_str": "2023-12-24",
        "story_text": text,
    }


def test_clean_kcna_archive_documents_and_skips():
    items = [
        _item("http://kcna.kp/a", "Pyongyang, December 24 (KCNA) -- Short version."),
        _item("http://kcna.kp/b", "  \n "),
        _item("http://kcna.kp/a", "Pyongyang, December 24 (KCNA) -- Longer, revised version of the story."),
        _item("http://kcna.kp/c", "Another story &amp; more.", headline="Greetings", millis=1731283199999),
    ]
    result = clean_kcna_archive(json.dumps(items).encode("utf-8"))
    assert [d.key for d in result.documents] == ["http://kcna.kp/a", "http://kcna.kp/c"]
    first, second = result.documents
    assert first.text.endswith("Longer, revised version of the story.")
    assert first.url == first.key and first.format == "kcna" and first.author is None
    assert first.section == "WPK General Secretary Kim Jong Un's Revolutionary Activities"
    assert first.published == date(2023, 12, 24)
    assert second.published == date(2024, 11, 10)  # 23:59:59.999 UTC, not the local day
    assert second.text == "Another story & more."
    assert [(s.key, s.reason) for s in result.skips] == [
        ("http://kcna.kp/b", EMPTY_STORY),
        ("http://kcna.kp/a", DUPLICATE_LINK),
    ]


def test_clean_kcna_date_falls_back_to_date_str():
    item = _item("http://kcna.kp/a", "Text of the story.")
    item["date"] = None
    item["date_str"] = "2024-03-05"
    result = clean_kcna_archive(json.dumps([item]).encode())
    assert result.documents[0].published == date(2024, 3, 5)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[{not json", "invalid JSON"),
        (b'{"link": "x"}', "expected a JSON list"),
        (b'[{"headline": "no link"}]', "item 0"),
    ],
)
def test_clean_kcna_invalid_archive_rejected(body, reason):
    with pytest.raises(RejectedContent, match=reason):
        clean_kcna_archive(body)


def test_clean_kcna_shared_archive_one_document_per_link():
    result = clean_kcna_archive(KCNA_ARCHIVE.read_bytes())
    links = [d.key for d in result.documents]
    assert len(links) == len(set(links)) == 1840
    reasons = [s.reason for s in result.skips]
    assert reasons.count(EMPTY_STORY) == 249
    assert reasons.count(DUPLICATE_LINK) == 22


# ------------------------------------------------------------------ dispatch


@pytest.mark.parametrize(
    "body",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        random.Random(7).randbytes(4096),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(100),
    ],
)
def test_clean_source_rejects_binary_served_as_html(body):
    with pytest.raises(RejectedContent, match=r"^binary content \(") as caught:
        clean_source(fetched(body, "text/html"), kind="article", url="u", published=None, config=CONFIG)
    assert "not a text document" in caught.value.reason


@pytest.mark.parametrize("body", [b"", None, b" \n\t "])
def test_clean_source_rejects_empty_body(body):
    with pytest.raises(RejectedContent) as caught:
        clean_source(fetched(body, "text/html"), kind="article", url="u", published=None, config=CONFIG)
    assert caught.value.reason == "empty body"


def test_clean_source_rejects_page_without_article_text():
    page = b"<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    with pytest.raises(RejectedContent, match=r"^no article text found \(\d+ characters after cleaning\)$"):
        clean_source(fetched(page, "text/html"), kind="article", url="u", published=None, config=CONFIG)


def test_clean_source_html_uses_explicit_published_and_url_as_key():
    body = _page("windows-1251", "Парад в Пхеньяне", RUSSIAN).encode("cp1251")
    result = clean_source(
        fetched(body, "text/html"), kind="article", url="https://example.org/ru",
        published=date(2024, 11, 12), config=CONFIG,
    )  # fmt: skip
    (document,) = result.documents
    assert (document.key, document.url, document.format) == ("https://example.org/ru",) * 2 + ("html",)
    assert document.published == date(2024, 11, 12)
    assert document.title == "Парад в Пхеньяне"


def test_clean_source_sniffs_html_pdf_text_and_kcna():
    source = dict(url="u", published=None, config=CONFIG)
    html = _page("utf-8", "Парад в Пхеньяне", RUSSIAN).encode()
    assert clean_source(fetched(html, None), kind="article", **source).documents[0].format == "html"
    pdf = _pdf_with_text(["A brief with enough text to pass the minimum length check."])
    assert clean_source(fetched(pdf, "text/html"), kind="brief", **source).documents[0].format == "pdf"
    text = clean_source(fetched(SEED_000.read_bytes(), "text/plain"), kind="article", **source)
    assert text.documents[0].format == "text"
    assert text.documents[0].title == TITLE_000
    archive = json.dumps([_item("http://kcna.kp/a", "A story.")]).encode()
    for kind, ctype in (("kcna", None), ("article", "application/json")):
        assert clean_source(fetched(archive, ctype), kind=kind, **source).documents[0].format == "kcna"


def test_clean_source_rejects_json_that_is_not_an_archive():
    with pytest.raises(RejectedContent, match="not a KCNA archive"):
        clean_source(
            fetched(b'{"a": 1}', "application/json"), kind="article", url="u", published=None, config=CONFIG
        )


@pytest.mark.parametrize("declared", ["utf-8", None, "iso-8859-1"])
def test_clean_utf8_page_with_one_bad_byte_keeps_every_other_character(declared):
    from pipeline.clean import decode_text

    text = "Пхеньян, 5 декабря (ЦТАК) — Ким Чен Ын осмотрел завод. 평양 조선중앙통신 김정은 동지께서 " * 4
    body = text.encode("utf-8")
    broken = body[:40] + b"\xff" + body[40:]
    decoded = decode_text(broken, declared)
    assert decoded.count("\ufffd") == 1 and decoded.replace("\ufffd", "") == text


def test_clean_legacy_page_is_still_decoded_by_its_charset():
    from pipeline.clean import decode_text

    text = "Спутниковые снимки показывают новое строительство на космодроме Сохэ. " * 3
    assert decode_text(text.encode("windows-1251"), "windows-1251") == text
    assert decode_text(text.encode("windows-1251"), None) == text

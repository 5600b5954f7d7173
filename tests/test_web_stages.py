"""html_extract, url_filter and pii on small tables (no Ray)."""
import pyarrow as pa
import pytest

from xcurate.engine.registry import get_stage_class
from xcurate.web.pii import PiiDetector, iban_ok, luhn_ok, verhoeff_ok

PAGE = ("<html><head><title>t</title><script>var x=1;</script></head><body><nav><a href='/'>Home</a> | "
        "<a href='/news'>News</a></nav><article><h1>Город у реки</h1><p>{p1}</p><p>{p2}</p></article>"
        "<footer>© 2024 Example Media · Privacy</footer></body></html>")
P1 = "Футбольный клуб отметил юбилей товарищеским матчем с командой из соседнего города, и болельщики пели до ночи."
P2 = "По данным последнего опроса, большинство жителей хотели бы, чтобы в городе появилось больше парков и скверов."


def stage(name, **params):
    cls = get_stage_class(name)
    return cls(cls.Params(**params))


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
def test_html_extract_main_text_charset_and_empty(extractor):
    page = PAGE.format(p1=P1, p2=P2)
    table = pa.table({"text": ["", "", ""], "html": [page.encode("cp1251"), page.encode(), b"<html><script>x()</script></html>"],
                      "charset": ["utf-8", None, None]})  # the first page lies about its charset
    out = stage("html_extract", extractor=extractor)(table)
    texts = out.table["text"].to_pylist()
    for text in texts[:2]:
        assert P1 in text.split("\n") and P2 in text.split("\n")  # paragraphs kept, one per line
        assert "Privacy" not in text and "var x" not in text       # boilerplate and scripts gone
    assert out.table["encoding"].to_pylist()[:2] == ["cp1251", "utf-8"]
    assert out.drop_reason.to_pylist() == [None, None, "empty_extraction"]
    assert out.table["html"].to_pylist()[:2] == [None, None] and out.table["html"][2].as_py()  # kept for inspection


def test_html_extract_passes_wet_text_on():
    table = pa.table({"text": ["Zeile eins.\nZeile zwei.", ""], "html": pa.array([None, None], pa.large_binary())})
    out = stage("html_extract", extractor="resiliparse")(table)
    assert out.table["text"].to_pylist() == ["Zeile eins.\nZeile zwei.", ""]
    assert out.drop_reason.to_pylist() == [None, "empty_extraction"]


def test_url_filter_rules_and_counts():
    urls = ["https://www.pornhub.com/view", "https://shop.example.com/casino-bonus/x", "https://a.example.com/hentai-gallery",
            "https://www.essex.example.co.uk/news", "https://blog.example.com/p", "https://blog.example.com/q"]
    texts = ["x", "x", "x", "Sussex news", "porn xxx nude nsfw hentai and more", "порно эротика порно эротика порно"]
    out = stage("url_filter")(pa.table({"url": urls, "text": texts}))
    assert out.drop_reason.to_pylist() == ["blocked_domain", "blocked_url_substring", "adult_url", None, "adult_text",
                                           "adult_text"]
    assert out.counts[0] == {"blocked_domain": {"pornhub.com": 1}} and out.counts[3] is None


def test_url_filter_list_path_is_checked_before_the_run(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        get_stage_class("url_filter").Params(domain_lists=[str(tmp_path / "missing.txt")])
    mine = tmp_path / "domains"  # UT1's file format: one host per line
    mine.write_text("# mine\nexample.net\n")
    out = stage("url_filter", domain_lists=[str(mine)])(pa.table({"url": ["http://x.example.net/"], "text": ["t"]}))
    assert out.drop_reason.to_pylist() == ["blocked_domain"]


@pytest.mark.parametrize("text,lang,kinds", [
    ("Schreiben Sie an anna.schmidt@beispiel.de oder rufen Sie 030 12345678 an.", "deu_Latn", {"EMAIL", "PHONE"}),
    ("Virement sur FR14 2004 1010 0505 0001 3M02 606, tél. 01 42 68 53 00.", "fra_Latn", {"IBAN", "PHONE"}),
    ("Карта 5555 5555 5555 4444, сервер 10.0.0.254.", "rus_Cyrl", {"CREDIT_CARD", "IP_ADDRESS"}),
    ("电话 +86 138 0013 8000，身份证 11010519491231002X。", "zho_Hans", {"PHONE", "NATIONAL_ID"}),
    ("SSN 536-22-1234 and NINO AB 12 34 56 C", "eng_Latn", {"NATIONAL_ID"}),
])
def test_pii_finds_validated_kinds(text, lang, kinds):
    spans = PiiDetector(regions={"deu": ["DE"], "fra": ["FR"], "zho": ["CN"], "_default": ["US", "GB"]}).find(text, lang)
    assert {s.kind for s in spans} == kinds


@pytest.mark.parametrize("lookalike", [
    "Version 2.4.10.3 was released on 2024-05-01.", "ISBN 978-3-16-148410-0", "Price: 1.299.000 ₫ or $1,299.99",
    "Order 4111 1111 1111 1112 (checksum wrong)", "IBAN DE89 3704 0044 0532 0130 01 (checksum wrong)",
    "Meeting at 12:30:45 on 31.12.2024", "Population 10 234 567 in 2023", "Build 192.168.1",
])
def test_pii_refuses_lookalikes(lookalike):
    assert PiiDetector().find(lookalike, "eng_Latn") == []


def test_pii_card_or_international_phone_followed_by_another_number():
    # one digit run "card + date" validates as nothing; the card (or +CC number) at its start still counts
    text = "Card: 4463 8914 8324 2016 23.06.2022, tel. +972 50-234-5585 04.04.1991"
    found = [(text[s.start:s.end], s.kind) for s in PiiDetector().find(text, "eng_Latn")]
    assert found == [("4463 8914 8324 2016", "CREDIT_CARD"), ("+972 50-234-5585", "PHONE")]
    # a national-format run is not cut: a ZIP+4 code must not become an Australian phone number
    text = "Austin, Texas 78712-1179 512-232-2787"
    spans = PiiDetector(regions={"eng": ["US", "AU"]}).find(text, "eng_Latn")
    assert "78712-1179" not in [text[s.start:s.end] for s in spans]


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert verhoeff_ok("2363") and not verhoeff_ok("2364")


def test_pii_modes_and_counts():
    table = pa.table({"text": ["Mail bob@example.com now.", "Nothing here."], "language": ["eng_Latn", "eng_Latn"]})
    redacted = stage("pii")(table)
    assert redacted.table["text"].to_pylist() == ["Mail <EMAIL> now.", "Nothing here."]
    assert redacted.table["pii_kinds"].to_pylist() == ["EMAIL", None]
    assert redacted.counts[0] == {"documents": 1, "kinds": {"EMAIL": 1}, "languages": {"eng_Latn": {"EMAIL": 1}}}
    flagged = stage("pii", mode="flag")(table)
    assert flagged.table["text"].to_pylist() == table["text"].to_pylist() and flagged.table["pii_count"].to_pylist() == [1, 0]
    dropped = stage("pii", mode="drop_document")(table)
    assert dropped.drop_reason.to_pylist() == ["contains_pii", None]


def test_pii_ner_mode_with_a_local_spacy_pipeline(tmp_path):
    import spacy
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "ada"}, {"LOWER": "lovelace"}]}])
    nlp.to_disk(tmp_path / "ner")
    pii = stage("pii", ner={"spacy_model": str(tmp_path / "ner"), "entities": ["PERSON"]})
    out = pii(pa.table({"text": ["Ada Lovelace wrote to ada@example.com."]}))
    assert out.table["text"].to_pylist() == ["<PERSON> wrote to <EMAIL>."]
    with pytest.raises(ValueError, match="not an installed spaCy package"):
        stage("pii", ner={"spacy_model": "xx_not_installed_model"}).setup()

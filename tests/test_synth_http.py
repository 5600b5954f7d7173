"""OpenAI-compatible HTTP backend against a local fault-injecting server."""
import logging

from xcurate.mt.base import MTFailure, TranslationRequest, Translator
from xcurate.mt.http_backend import HttpBackendConfig, OpenAIBackend
from xcurate.mt.languages import LanguageTable
from xcurate.mt.fake_server import FakeMTServer

TABLE = LanguageTable.load()
EN, DE = TABLE.resolve("en"), TABLE.resolve("de")


def _backend(url, **kw):
    cfg = dict(base_url=url, model="fake-mt", api_key_env="XC_TEST_MT_KEY", prompt="{text}", max_concurrency=4,
               timeout_s=0.5, max_retries=2, backoff_base_s=0.01, backoff_max_s=0.05)
    cfg.update(kw)
    return OpenAIBackend(HttpBackendConfig(**cfg))


def test_every_request_ends_in_a_result_or_a_recorded_failure(monkeypatch, caplog, capsys):
    monkeypatch.setenv("XC_TEST_MT_KEY", "sk-test-SECRET-4242")
    caplog.set_level(logging.DEBUG)
    plain = [f"Satz Nummer {i}." for i in range(40)]
    faulty = ["a [429x2]", "b [500x1]", "c [500always]", "d [slow1]", "e [badjson1]", "f [badjson]", "g [400]"]
    texts = plain[:20] + faulty + plain[20:]
    with FakeMTServer(slow_s=1.0) as server:
        backend = _backend(server.url)
        results = backend.translate(texts, EN, DE)
        backend.close()
    assert len(results) == len(texts)
    by_text = dict(zip(texts, results))
    for t in plain + ["a [429x2]", "b [500x1]", "d [slow1]", "e [badjson1]"]:
        assert by_text[t] == "DE:" + t
    assert by_text["c [500always]"] == MTFailure("http_500", 3, by_text["c [500always]"].detail)
    assert by_text["f [badjson]"].reason == "malformed_response" and by_text["f [badjson]"].attempts == 3
    assert by_text["g [400]"].reason == "http_400" and by_text["g [400]"].attempts == 1
    # none lost, none duplicated: one request per plain text, retries only where injected
    assert all(server.attempts[t] == 1 and server.ok_sent[t] == 1 for t in plain)
    assert server.attempts["a [429x2]"] == 3 and server.attempts["c [500always]"] == 3
    assert server.attempts["d [slow1]"] == 2 and server.attempts["g [400]"] == 1
    # bounded concurrency
    assert 1 < server.max_in_flight <= 4
    # the key is sent, and never appears in failures, repr or logs
    assert server.auth_headers == {"Bearer sk-test-SECRET-4242"}
    out = capsys.readouterr()
    leaks = [str(r) for r in results if isinstance(r, MTFailure)] + [repr(backend), caplog.text, out.out, out.err]
    assert not any("SECRET" in s for s in leaks)


def test_timeout_failure_is_recorded(monkeypatch):
    with FakeMTServer(latency_s=0.4) as server:
        backend = _backend(server.url, timeout_s=0.1, max_retries=1)
        [res] = backend.translate(["Guten Morgen."], EN, DE)
        backend.close()
    assert isinstance(res, MTFailure) and res.reason == "timeout" and res.attempts == 2
    assert server.attempts["Guten Morgen."] == 2


def test_translator_splits_long_inputs_and_protects_structure():
    sentences = [f"This is sentence {i} of a long answer." for i in range(30)]
    text = " ".join(sentences) + " See https://example.org/docs and write to help@example.org."
    with FakeMTServer() as server:
        backend = _backend(server.url, max_input_tokens=30)
        translator = Translator(backend, TABLE)
        [out, again] = translator.translate([TranslationRequest(text, "en", "de"), TranslationRequest(text, "en", "de")])
        backend.close()
    chunks = [t for t in server.attempts]
    assert len(chunks) > 5  # split at sentence boundaries
    assert all(c.count("sentence") <= 4 for c in chunks)
    assert all("example.org" not in c for c in chunks)  # URLs and e-mails are masked before MT
    assert "https://example.org/docs" in out and "help@example.org" in out
    assert out.count("DE:") == len(chunks) and out == again
    assert all(v == 1 for v in server.attempts.values())  # identical chunks are translated once

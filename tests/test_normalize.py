"""``normalize``: NFC, control characters, whitespace. The fast regexes (only runs that change) give the
output of the plain definition."""
import random
import re

import pyarrow as pa

from xcurate.stages.normalize import Normalize

PLAIN_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
PLAIN_AROUND_NEWLINE = re.compile(r" ?\n ?")


def plain_collapse(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = PLAIN_SPACES.sub(" ", text)
    return re.sub(r"\n{3,}", "\n\n", PLAIN_AROUND_NEWLINE.sub("\n", text)).strip()


def test_whitespace_control_characters_and_nfc():
    stage = Normalize()
    stage.setup()
    text = "  Cafe\u0301\x07 \t\u00a0 bar\r\n \r\n\n\n  baz\u3000\u3000qux  "
    assert stage.normalize_text(text) == "Café bar\n\nbaz qux"
    out = stage.process(pa.table({"text": ["a  b", None, ""]})).table
    assert out["text"].to_pylist() == ["a b", None, ""]


def test_fast_whitespace_rules_give_the_plain_definition():
    stage = Normalize(Normalize.Params(form="", strip_control=False))
    stage.setup()
    rnd = random.Random(7)
    alphabet = [" ", " ", "\t", "\u00a0", "\u2009", "\u3000", "\n", "\n", "\r", "a", "b", "é"]
    for _ in range(5000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16)))
        assert stage.normalize_text(text) == plain_collapse(text), repr(text)

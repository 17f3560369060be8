"""The terminal view's shortcuts (issue 14, round 2) give what the general paths give.

- prose of one-cell characters is broken by positions (`wrap._words_narrow`): the same lines as the
  general path, which measures word by word, on texts with double, leading and trailing spaces and
  words longer than a line;
"""

from __future__ import annotations

import random

import pytest

from bpexplain.render import wrap


def general_words(text: str, limit: int, hang: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    with monkeypatch.context() as m:
        m.setattr(wrap, "is_narrow", lambda text: False)  # the path that measures each word
        return wrap.wrap_words(text, limit, hang)


@pytest.mark.parametrize("seed", range(3))
def test_prose_by_positions_is_prose_by_words(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(seed)
    words = ["", "a", "bb", "the", "receptive", "field", "O1(1,1)", "δ", "x" * 30, "y" * 7, "z" * 13]
    for _ in range(4000):
        text = rnd.choice([" ", "  "]).join(rnd.choice(words) for _ in range(rnd.randint(1, 25)))
        text = rnd.choice(["", " "]) + text + rnd.choice(["", " ", "  "])
        limit, hang = rnd.randint(-1, 40), rnd.randint(0, 12)
        fast = wrap.wrap_words(text, limit, hang)
        assert wrap.is_narrow(text)
        assert fast == general_words(text, limit, hang, monkeypatch), (text, limit, hang)
        assert all(wrap.width(line) <= max(limit, 1) for line in fast)


def test_prose_by_positions_on_the_cases_that_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        ("a bb ccc dddd", 6, 2): ["a bb", "  ccc", "  dddd"],
        ("abcdefghij kl", 4, 1): ["abc", " def", " ghi", " j", " kl"],  # cut in pieces of limit - hang
        ("ab  cd", 2, 0): ["ab", "", "cd"],  # a double space: an empty word
        ("ab  cd  ", 3, 0): ["ab", "cd", ""],
    }
    for (text, limit, hang), lines in cases.items():
        assert wrap.wrap_words(text, limit, hang) == lines
        assert general_words(text, limit, hang, monkeypatch) == lines

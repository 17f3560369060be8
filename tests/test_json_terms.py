"""JSON's `terms` key (a sum shortened by --max-terms says how many terms it has): the tree is walked only when the
strings show an ellipsis. Checked against the rule written out:
walk every tree and count its longest sum."""

from __future__ import annotations

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Expr, Mul, Name, Num, Sym, Var
from bpexplain.render.json import JsonParts, longest_sum
from bpexplain.spec import load_network
from bpexplain.trace import Block


def longest_by_hand(node: object) -> int:
    """Every node visited, whatever its class."""
    if not isinstance(node, Expr):
        return 0
    longest = len(node.terms) if isinstance(node, Add) else 0  # type: ignore[attr-defined]
    for name in node.__match_args__:
        child = getattr(node, name)
        for c in child if isinstance(child, tuple) else (child,):
            longest = max(longest, longest_by_hand(c))
    return longest


@pytest.mark.parametrize("network", ["lecture", "homework-cnn", "cbam", "attention", "resnet-block"])
@pytest.mark.parametrize("max_terms", [2, 3, 8])
def test_terms_is_written_exactly_when_a_sum_is_longer_than_max_terms(network: str, max_terms: int) -> None:
    parts = JsonParts(4, max_terms)
    blocks = [ev for ev in run(load_network(network), RunOptions(command="train", steps=1)) if isinstance(ev, Block)]
    seen = 0
    for b in blocks:
        for eq in b.equations:
            longest = longest_by_hand(eq.bound)
            assert longest_sum(eq.bound) == longest
            d = parts.equation(eq, b)
            if longest > max_terms:
                assert d["terms"] == longest, d
                assert "…" in d["expression"]
                seen += 1
            else:
                assert "terms" not in d, d
    if max_terms == 2:
        assert seen  # every one of these networks has a sum of more than 2 terms


def test_longest_sum_looks_inside_every_node_but_leaves() -> None:
    x, y = Var(Sym("x"), 1.0), Var(Sym("y"), 2.0)
    inner = Add((Mul((x, y)), x, y, Num(1.0)))
    assert longest_sum(Mul((Name("f"), Add((inner, x))))) == 4
    assert longest_sum(Num(3.0)) == 0 and longest_sum(x) == 0

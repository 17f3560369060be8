"""LaTeX over the same expression trees: w_{14}, \\delta_4, \\frac{dh_4(e)}{de}, \\frac{\\partial E}{\\partial w_{14}}.

A subclass of `render.printer.Printer`, as sympy's `LatexPrinter` is of its `Printer`: one
`_print_<Node>` method per node class, the brackets decided by the shared precedence table, numbers
formatted by `render.numbers.format_number` (only re-spelled: `1.5e-7` becomes `1.5 \\times 10^{-7}`).
The output is math-mode LaTeX that both amsmath and KaTeX (GitHub, Jupyter) accept; the commands it
may emit are listed in `COMMANDS`, which the tests use to check every equation.

`LatexPrinter.measured` prints a node once and gives, with its LaTeX, the length of the plain text
`TextPrinter` writes for the same node: the LaTeX format breaks an equation by that length, and this
way it need not print the equation a second time (see `measured`).

`latex_text` turns the trace's plain-text prose (conventions, notes, titles) into text-mode LaTeX
that pdflatex compiles without Unicode fonts.
"""

from __future__ import annotations

import re

from ..expr import Add, Call, Derivative, Div, Elem, Expr, Func, Mul, Name, Neg, Num, Partial, Pow, Sub, Sym, Var
from .numbers import format_number
from .printer import (
    _PRECEDENCE,
    PRECEDENCE_ADD,
    PRECEDENCE_ATOM,
    PRECEDENCE_MUL,
    PRECEDENCE_POW,
    Printer,
    TextPrinter,
)

# Unicode letters used in symbols, and their LaTeX commands
GREEK = {
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "η": r"\eta",
    "θ": r"\theta",
    "λ": r"\lambda",
    "μ": r"\mu",
    "σ": r"\sigma",
    "τ": r"\tau",
    "φ": r"\varphi",
    "Δ": r"\Delta",
    "Σ": r"\Sigma",
}
# hatted letters: ŷ is the target
HATS = {"ŷ": "y", "â": "a", "ê": "e", "x̂": "x"}
# function names: those LaTeX knows as operators, the rest upright through \operatorname
OPERATORS = {"exp": r"\exp", "ln": r"\ln", "log": r"\log", "max": r"\max", "min": r"\min", "tanh": r"\tanh"}

# every command this printer (and the Markdown renderer's math) may emit: all are KaTeX-supported
COMMANDS = frozenset(
    {
        r"\alpha",
        r"\beta",
        r"\gamma",
        r"\delta",
        r"\varepsilon",
        r"\eta",
        r"\theta",
        r"\lambda",
        r"\mu",
        r"\sigma",
        r"\tau",
        r"\varphi",
        r"\Delta",
        r"\Sigma",
        r"\hat",
        r"\exp",
        r"\ln",
        r"\log",
        r"\max",
        r"\min",
        r"\tanh",
        r"\operatorname",
        r"\frac",
        r"\partial",
        r"\cdot",
        r"\cdots",
        r"\left",
        r"\right",
        r"\times",
        r"\prime",
        r"\mathrm",
        r"\text",
        r"\neq",
        r"\quad",
        r"\begin",
        r"\end",
        r"\ldots",
        r"\vdots",
        r"\ddots",
        r"\tfrac",
    }
)


class LatexPrinter(Printer):
    """Math-mode LaTeX: e_{4} = w_{14} \\cdot y_{1} + w_{24} \\cdot y_{2}, \\sigma\\left(0.39\\right)."""

    MUL, SUB, ELLIPSIS = r" \cdot ", " - ", r"\cdots"  # the fast path's operators (see `Printer`)

    def __init__(self, precision: int = 4, max_terms: int | None = None) -> None:
        super().__init__(precision, max_terms)
        self.text: TextPrinter | None = None  # made on the first `measured`: the plain text's own spelling
        # a leaf's LaTeX and text width by identity, as `Printer._symbols`: the node is kept alive in `_kept`
        self._measured_leaves: dict[int, tuple[str, int]] = {}
        self._measured_numbers: dict[float, tuple[str, int]] = {}
        # a symbol's subscript in LaTeX and its text width, by its indices' identity (w and w' share them)
        self._measured_subscripts: dict[int, tuple[str, int]] = {}
        self._measured_indices: dict[int, tuple[str, int]] = {}  # a symbol as an index: its LaTeX and width
        # runs of a unit's products (`_mpair`): the last product's factors, whether it led, and the
        # texts (and widths) of all its factors but the last, reused while the next one's leading factors are
        # the very same objects (a dense layer's 784 gradients δ_n·dh_n(e)/de·x_m of a unit share them)
        self._mrun: tuple[tuple[Expr, ...], bool, str, int, str, int] = ((), False, "", 0, "", 0)

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def format(self, value: float) -> str:
        return latex_number(super().format(value))

    # ---- leaves -------------------------------------------------------------------------------

    def _print_Sym(self, node: Sym, lead: bool) -> str:
        text = self.letter(node.base)
        indices = node.indices
        if indices:
            # w_{14} and w'_{14} share their indices (the layers make w' from w): the subscript is made once
            subscript = self._subscripts.get(id(indices))
            if subscript is None:
                parts = [self._index(i) for i in indices]
                sep = "" if all(_short(p) for p in parts) else ","
                subscript = _subscript(sep.join(parts))
                self._remember(self._subscripts, indices, subscript)
            text += subscript
        if node.superscript:
            if node.prime:
                return text + r"^{\prime " + node.superscript + "}"
            return text + "^{" + node.superscript + "}"
        if node.prime:
            return text.replace("_", "'_", 1) if indices else text + "'"
        return text

    def letter(self, base: str) -> str:
        text = _LETTERS_MATH.get(base)
        if text is None:
            text = self._letter(base)
            if len(_LETTERS_MATH) < 1 << 12:  # a network's symbols have few bases
                _LETTERS_MATH[base] = text
        return text

    def _letter(self, base: str) -> str:
        if base in GREEK:
            return GREEK[base]
        if base in HATS:
            return r"\hat{" + HATS[base] + "}"
        if len(base) == 1 and base.isascii() and base.isalpha():
            return base
        return r"\mathrm{" + _spell(base) + "}"

    def _print_Elem(self, node: Sym, lead: bool) -> str:
        """A feature-map or kernel element as the lecture writes it: O1(2,3), \\delta O1(2,3)."""
        base = node.base
        text = _BASES.get(base)
        if text is None:
            text = _spell(base).strip()
            if len(_BASES) < 1 << 12:  # a network's maps and kernels are few
                _BASES[base] = text
        if node.prime or node.superscript:
            sup = ([r"\prime"] if node.prime else []) + ([node.superscript] if node.superscript else [])
            text = "{" + text + "}^{" + " ".join(sup) + "}"
        known = _INDICES.get
        return text + "(" + ",".join([(type(i) is str and known(i)) or self._index(i) for i in node.indices]) + ")"

    def _index(self, index: str | Sym) -> str:
        if isinstance(index, Sym):  # (x_{425}): shared by the symbols of a unit's weights, printed once
            text = self._indexes.get(id(index))
            if text is None:
                text = "(" + self._print_Sym(index, False) + ")"
                self._remember(self._indexes, index, text)
            return text
        text = _INDICES.get(index)
        if text is None:
            text = _index_text(index)
            if len(_INDICES) < 1 << 16:  # indices are few (numbers up to a layer's size): the cache stays small
                _INDICES[index] = text
        return text

    def _print_Name(self, node: Name, lead: bool) -> str:
        text = node.text
        prime = text.endswith("'")
        core = text.rstrip("'")
        if core in OPERATORS:
            out = OPERATORS[core]
        elif core in GREEK:
            out = GREEK[core]
        elif len(core) == 1 and core.isascii():
            out = core
        else:
            out = r"\operatorname{" + _spell(core).strip() + "}"
        return out + ("'" * (len(text) - len(core)) if prime else "")

    # ---- derivatives --------------------------------------------------------------------------

    def _print_Derivative(self, node: Derivative, lead: bool) -> str:
        return rf"\frac{{d{self._print(node.func)}({node.var})}}{{d{node.var}}}"

    def _print_Partial(self, node: Partial, lead: bool) -> str:
        return rf"\frac{{\partial {self._print(node.of)}}}{{\partial {self._print(node.wrt)}}}"

    # ---- operators ----------------------------------------------------------------------------

    def _print_Add(self, node: Add, lead: bool) -> str:
        terms = node.terms
        return " + ".join(
            [
                r"\cdots" if k is None else self._sub(terms[k], PRECEDENCE_ADD, lead and k == 0)
                for k in self.kept(len(terms))
            ]
        )

    def _print_Sub(self, node: Sub, lead: bool) -> str:
        return f"{self._sub(node.left, PRECEDENCE_ADD, lead)} - {self._sub(node.right, PRECEDENCE_ADD, strict=True)}"

    def _print_Neg(self, node: Neg, lead: bool) -> str:
        return "-" + self._sub(node.operand, PRECEDENCE_MUL)

    def _print_Mul(self, node: Mul, lead: bool) -> str:
        return r" \cdot ".join(self._sub(f, PRECEDENCE_MUL, lead and i == 0) for i, f in enumerate(node.factors))

    def _print_Div(self, node: Div, lead: bool) -> str:
        # a fraction bar groups by itself: no brackets inside
        return rf"\frac{{{self._print(node.numerator, True)}}}{{{self._print(node.denominator, True)}}}"

    def _print_Pow(self, node: Pow, lead: bool) -> str:
        base = self._sub(node.base, PRECEDENCE_POW, strict=True)
        if isinstance(self.leaf(node.base), (Sym, Name)) and not base.startswith(r"\left"):
            base = "{" + base + "}"  # x_{1}^{2}: a subscripted base takes its exponent as a group
        return f"{base}^{{{self._print(node.exponent, True)}}}"

    def _print_Call(self, node: Call, lead: bool) -> str:
        args = ", ".join(self._print(a, True) for a in node.args)
        return f"{self._print(node.func)}{self.paren(args)}"

    # ---- one walk, two widths ---------------------------------------------------------------------
    #
    # `measured` is `doprint` that also counts the characters of `TextPrinter`'s text for the same node.
    # Sums, differences, products, negations, calls and their leaves (most of every equation) are walked
    # once, each node's LaTeX and text width made together by the rules both printers share (`Printer._sub`'s
    # brackets, the same kept terms); a symbol's text is printed once and its width kept; a node whose two
    # spellings differ in shape (a fraction, a power) is printed by each printer, for that node alone.
    # tests/test_latex_once.py compares the widths with `TextPrinter` on every equation of every bundled
    # network and on random trees.

    def measured(self, node: Expr, numbers: bool = False) -> tuple[str, int]:
        """`doprint(node, numbers)`, and the length of `TextPrinter(...).doprint(node, numbers)`."""
        if self.text is None:
            self.text = TextPrinter(self.precision, self.max_terms)
        self.numbers = self.text.numbers = numbers
        try:
            return self._m(node, True)
        finally:
            self.numbers = self.text.numbers = False

    def measured_both(self, node: Expr) -> tuple[str, int, str, int]:
        """`measured(node)` and `measured(node, numbers=True)`: an equation's expression and its substituted
        numbers with their widths. A product, sum or difference is walked once for both (`_mpair`), as
        `Printer.both` does for the text, a bound symbol already kept and a number are looked up; any other
        shape is measured the two ways."""
        if self.text is None:
            self.text = TextPrinter(self.precision, self.max_terms)
        kind = type(node)
        if kind is Var:  # a bound symbol whose leaf is kept (y_4 = dh_4(e)/de...): the leaf and its number
            entry = self._measured_leaves.get(id(node.sym))  # type: ignore[attr-defined]
            if entry is not None:
                return (*entry, *(self._measured_numbers.get(node.value) or self.measured_number(node.value)))  # type: ignore[attr-defined]
        elif kind is Num:  # a number is the same text both ways
            number = self._measured_numbers.get(node.value) or self.measured_number(node.value)  # type: ignore[attr-defined]
            return (*number, *number)
        try:
            if kind is Mul:
                return self._mpair(node.factors, True)  # type: ignore[attr-defined]
            if kind is Add:
                terms = node.terms  # type: ignore[attr-defined]
                symbols, numbers, sw, nw = [], [], 0, 0
                for k in self.kept(len(terms)):
                    if k is None:
                        symbols.append(r"\cdots")
                        numbers.append(r"\cdots")
                        sw += 1  # …
                        nw += 1
                        continue
                    term = terms[k]
                    s, w, n, v = (  # a product (most terms) needs no brackets in a sum: paired at once
                        self._mpair(term.factors, k == 0)  # type: ignore[attr-defined]
                        if type(term) is Mul
                        else self._mboth(term, PRECEDENCE_ADD, k == 0, False)
                    )
                    symbols.append(s)
                    numbers.append(n)
                    sw += w
                    nw += v
                gaps = 3 * (len(symbols) - 1)
                return " + ".join(symbols), sw + gaps, " + ".join(numbers), nw + gaps
            if kind is Sub:
                left = node.left  # type: ignore[attr-defined]
                # a bound symbol first (w_14 in w_14 − η·∂E/∂w_14): its kept leaf and its number, never bracketed
                entry = self._measured_leaves.get(id(left.sym)) if type(left) is Var else None  # type: ignore[attr-defined]
                if entry is not None:
                    s, w = entry
                    n, v = self._measured_numbers.get(left.value) or self.measured_number(left.value)  # type: ignore[attr-defined]
                else:
                    s, w, n, v = self._mboth(left, PRECEDENCE_ADD, True, False)
                s2, w2, n2, v2 = self._mboth(node.right, PRECEDENCE_ADD, False, True)  # type: ignore[attr-defined]
                return f"{s} - {s2}", w + 3 + w2, f"{n} - {n2}", v + 3 + v2  # " − " in text
        finally:
            self.numbers = self.text.numbers = False
        return (*self.measured(node), *self.measured(node, True))

    def _mboth(self, node: Expr, parent: int, lead: bool, strict: bool) -> tuple[str, int, str, int]:
        """`_ms(node, parent, lead, strict)` without and with numbers: a product (never bracketed inside a sum
        or difference) in one walk, any other node the two ways."""
        if type(node) is Mul:
            return self._mpair(node.factors, lead)  # type: ignore[attr-defined]
        assert self.text is not None
        self.numbers = self.text.numbers = False
        s, w = self._ms(node, parent, lead, strict)
        self.numbers = self.text.numbers = True
        n, v = self._ms(node, parent, lead, strict)
        return s, w, n, v

    def _mpair(self, factors: tuple[Expr, ...], lead: bool) -> tuple[str, int, str, int]:
        """`_mproduct(factors, lead)` without and with numbers, in one pass: a bound factor (most) is its cached
        symbol and its number; any other factor is measured the two ways. A product whose factors but the last
        are those of the product before (the same objects, in the same place: `_mrun`) takes their texts and
        widths from it and adds its last factor's (a factor's texts depend on it and on whether it leads)."""
        assert self.text is not None
        count, led = len(factors), lead
        run = self._mrun
        kept = run[0]
        if (
            len(kept) == count
            and 1 < count <= 4
            and factors[count - 2] is kept[count - 2]
            and factors[0] is kept[0]
            and (count < 4 or factors[1] is kept[1])
            and run[1] is lead
        ):
            self._mrun = (factors, lead, run[2], run[3], run[4], run[5])
            factors, lead = factors[-1:], False
            symbols, numbers, sw, nw = [run[2]], [run[4]], run[3], run[5]
        else:
            symbols, numbers, sw, nw = [], [], -1, -1
        leaves, known = self._measured_leaves, self._measured_numbers
        for factor in factors:
            if type(factor) is Var:
                value = factor.value  # type: ignore[attr-defined]
                n = known.get(value) or self.measured_number(value)
                if value < 0 and not lead:
                    n = (self.paren(n[0]), n[1] + 2)
                s = leaves.get(id(factor.sym))  # type: ignore[attr-defined]
                if s is None:
                    self.numbers = self.text.numbers = False
                    s = self._ms(factor, PRECEDENCE_MUL, lead)
            else:
                self.numbers = self.text.numbers = False
                s = self._ms(factor, PRECEDENCE_MUL, lead)
                self.numbers = self.text.numbers = True
                n = self._ms(factor, PRECEDENCE_MUL, lead)
            symbols.append(s[0])
            numbers.append(n[0])
            sw += s[1] + 1
            nw += n[1] + 1
            lead = False
        if 1 < len(factors) == count <= 4:  # walked whole: its leading factors kept for the next product
            self._mrun = (
                factors,
                led,
                r" \cdot ".join(symbols[:-1]),
                sw - s[1] - 1,  # type: ignore[index]  # the last factor's (there is one)
                r" \cdot ".join(numbers[:-1]),
                nw - n[1] - 1,
            )
        return r" \cdot ".join(symbols), sw, r" \cdot ".join(numbers), nw

    def measured_symbol(self, node: Expr, bound: Expr | None = None) -> tuple[str, int]:
        """`measured(node)` for an equation's symbol (never bound): looked up first, as many are known; a new
        symbol (w'_14) or a partial derivative of two symbols (∂E/∂w_14, not kept: each is one equation's) is
        made directly, as `_m` makes it (a map element too: O1(2,3), ∂E/∂O1(2,3)).

        A primed twin, an update's w'_mn whose bound starts from its w_mn (`w_mn − …`, given as `bound`), is
        w_mn's kept text with a prime before its subscript and one more character, where both have one tuple of
        indices (kept as `_msym` makes it), the same base and no superscript, and w_mn is not primed: as `_msym`
        spells it. It is not kept (made again as fast as it is found)."""
        entry = self._measured_leaves.get(id(node))
        if entry is not None:
            return entry
        if self.text is None:
            self.text = TextPrinter(self.precision, self.max_terms)
        kind = type(node)
        if kind is Sym and node.prime and type(bound) is Sub and type(bound.left) is Var:  # type: ignore[attr-defined]
            old = bound.left.sym  # type: ignore[attr-defined]
            indices = node.indices  # type: ignore[attr-defined]
            if type(old) is Sym and old.indices is indices and indices and not old.prime:  # type: ignore[attr-defined]
                if old.base == node.base and not old.superscript and not node.superscript:  # type: ignore[attr-defined]
                    kept = self._measured_leaves.get(id(old))
                    sub = self._measured_subscripts.get(id(indices))
                    if kept is not None and sub is not None and sub[1] >= 0:
                        return kept[0].replace("_", "'_", 1), kept[1] + 1
        if kind is Sym or kind is Elem:
            return self._mleaf(node, True)
        if kind is Partial:
            of, wrt = node.of, node.wrt  # type: ignore[attr-defined]
            if (type(of) is Sym or type(of) is Elem) and (type(wrt) is Sym or type(wrt) is Elem):
                leaves = self._measured_leaves
                o = leaves.get(id(of)) or self._mleaf(of, False)
                w = leaves.get(id(wrt)) or self._mleaf(wrt, False)
                return rf"\frac{{\partial {o[0]}}}{{\partial {w[0]}}}", 3 + o[1] + w[1]  # ∂E/∂w
        return self.measured(node)

    def measured_number(self, value: float) -> tuple[str, int]:
        """`number(value)`, and the length of the plain text's."""
        entry = self._measured_numbers.get(value)
        if entry is None:
            if len(self._measured_numbers) >= _MEASURED_LIMIT:
                self._measured_numbers.clear()
            text = format_number(value, self.precision)  # `Printer.format`, which `format` re-spells
            # latex_number changes only an exponent, inf and nan (each has an "e" or an "n")
            latex = text if "e" not in text and "n" not in text else latex_number(text)
            entry = self._measured_numbers[value] = (latex, len(text))
        return entry

    def _m(self, node: Expr, lead: bool) -> tuple[str, int]:
        """`_print(node, lead)` and its text's width."""
        kind = type(node)
        if kind is Var:
            if self.numbers:
                return self.measured_number(node.value)  # type: ignore[attr-defined]
            node = node.sym  # type: ignore[attr-defined]
            kind = type(node)
        elif kind is Func:
            node = node.concrete if self.numbers else node.symbolic  # type: ignore[attr-defined]
            kind = type(node)
        if kind is Sym or kind is Elem or kind is Name or (kind is Derivative and type(node.func) is not Func):  # type: ignore[attr-defined]
            return self._measured_leaves.get(id(node)) or self._mleaf(node, lead)
        if kind is Num:
            return self.measured_number(node.value)  # type: ignore[attr-defined]
        if kind is Mul:
            return self._mproduct(node.factors, lead)  # type: ignore[attr-defined]
        if kind is Add:
            terms = node.terms  # type: ignore[attr-defined]
            texts, width = [], 0
            for k in self.kept(len(terms)):
                if k is None:
                    texts.append(r"\cdots")
                    width += 1  # …
                    continue
                term = terms[k]
                # a product binds tighter than a sum: never bracketed (what `_ms` would find, sooner)
                latex, w = (
                    self._mproduct(term.factors, lead and k == 0)
                    if type(term) is Mul
                    else self._ms(term, PRECEDENCE_ADD, lead and k == 0)
                )
                texts.append(latex)
                width += w
            return " + ".join(texts), width + 3 * (len(texts) - 1)
        if kind is Sub:
            left, lw = self._ms(node.left, PRECEDENCE_ADD, lead)  # type: ignore[attr-defined]
            right, rw = self._ms(node.right, PRECEDENCE_ADD, False, True)  # type: ignore[attr-defined]
            return f"{left} - {right}", lw + 3 + rw  # " − " in text
        if kind is Neg:
            operand, w = self._ms(node.operand, PRECEDENCE_MUL, False)  # type: ignore[attr-defined]
            return "-" + operand, 1 + w
        if kind is Call:
            func, fw = self._m(node.func, False)  # type: ignore[attr-defined]
            args = [self._m(a, True) for a in node.args]  # type: ignore[attr-defined]
            return (
                func + self.paren(", ".join([a[0] for a in args])),
                fw + 2 + sum([a[1] for a in args]) + 2 * (len(args) - 1),
            )
        if kind is Partial:
            of, ow = self._m(node.of, False)  # type: ignore[attr-defined]
            wrt, ww = self._m(node.wrt, False)  # type: ignore[attr-defined]
            return rf"\frac{{\partial {of}}}{{\partial {wrt}}}", 3 + ow + ww  # ∂E/∂w
        assert self.text is not None  # a fraction, a power, ...: each printer's own spelling of this node
        return self._print(node, lead), len(self.text._print(node, lead))

    def _mleaf(self, node: Expr, lead: bool) -> tuple[str, int]:
        """A symbol's LaTeX and text width, printed once and kept (the node kept alive: its id stays its own).

        The width of a symbol or map element whose indices are all text is counted from its parts, as
        `TextPrinter` joins them; any other leaf is printed by the text printer."""
        kind = type(node)
        if kind is Sym:
            entry = self._msym(node)  # type: ignore[arg-type]
            if entry is not None:
                return entry
        width = -1
        if kind is Sym or kind is Elem:
            latex = self._print_Elem(node, lead) if kind is Elem else self._print_Sym(node, lead)  # type: ignore[arg-type]
            width = len(node.base) + (1 if node.prime else 0)  # type: ignore[attr-defined]
            if node.superscript:  # type: ignore[attr-defined]
                width += 1 + len(node.superscript)  # type: ignore[attr-defined]
            indices = node.indices  # type: ignore[attr-defined]
            comma = False
            for index in indices:
                if type(index) is str:
                    width += len(index)
                    if len(index) != 1 and index[:1] != "(":
                        comma = True
                    continue
                # a symbol as an index, (x12): `TextPrinter._index` writes its base and indices in brackets
                inner = index.indices  # type: ignore[union-attr]
                if type(index) is not Sym or not all([type(i) is str for i in inner]):
                    width = -1  # anything else: the text printer's own spelling
                    break
                width += 2 + len(index.base) + sum([len(i) for i in inner])  # type: ignore[misc]
            else:
                if kind is Elem:  # O1(2,3)
                    width += 1 + max(len(indices), 1)
                elif indices:  # w_14, w_x1,10: a comma between indices unless each is one character
                    width += len(indices) if comma else 1
        else:
            latex = self._print(node, lead)
        if width < 0:
            assert self.text is not None
            width = len(self.text._print(node, lead))
        entry = (latex, width)
        self._remember(self._measured_leaves, node, entry, _MEASURED_LIMIT)
        return entry

    def _msym(self, node: Sym) -> tuple[str, int] | None:
        """A symbol's `(_print_Sym(node), its text width)`, kept, its subscript and the subscript's width made
        once for its indices (w_14 and w'_14 share them); None where an index is a symbol with indices other
        than text (then `_mleaf` spells it)."""
        indices = node.indices
        text = _LETTERS_MATH.get(node.base) or self.letter(node.base)
        width = len(node.base)
        if indices:
            sub = self._measured_subscripts.get(id(indices)) or self._msubscript(indices)
            if sub[1] < 0:
                return None
            text += sub[0]
            width += sub[1]
        superscript = node.superscript
        if superscript:
            width += len(superscript) + (2 if node.prime else 1)  # w'^s_14 in text
            text += (r"^{\prime " if node.prime else "^{") + superscript + "}"
        elif node.prime:
            width += 1
            text = text.replace("_", "'_", 1) if indices else text + "'"
        entry = (text, width)
        self._remember(self._measured_leaves, node, entry, _MEASURED_LIMIT)
        return entry

    def _msubscript(self, indices: tuple[str | Sym, ...]) -> tuple[str, int]:
        """A symbol's subscript as `_print_Sym` writes it (its parts joined by commas unless each is `_short`),
        and the text's (`_14`, `_x1,10`, `_(x12)3`) width; -1 for the width where an index is a symbol whose
        own indices are not all text. One pass over the indices."""
        known = _INDICES.get
        parts = []
        width, comma, short = 0, False, True
        for index in indices:
            if type(index) is str:
                part = known(index) or self._index(index)
                if width >= 0:
                    width += len(index)
                    if len(index) != 1 and index[:1] != "(":
                        comma = True
            else:  # a symbol as an index, (x_6): its LaTeX and text width kept (a layer's unit shares it)
                entry = self._measured_indices.get(id(index))
                if entry is None:
                    inner = index.indices  # type: ignore[union-attr]
                    entry = (
                        self._index(index),
                        -1
                        if type(index) is not Sym or not all([type(i) is str for i in inner])
                        else 2 + len(index.base) + sum([len(i) for i in inner]),  # type: ignore[misc, union-attr, arg-type]
                    )
                    self._remember(self._measured_indices, index, entry, _MEASURED_LIMIT)
                part = entry[0]
                if entry[1] < 0:
                    width = -1
                elif width >= 0:
                    width += entry[1]
            if short and not (len(part) == 1 or part[:1] == "(" or (part[:1] == "\\" and " " not in part)):
                short = False  # `_short`, inline
            parts.append(part)
        if width >= 0:
            width += len(indices) if comma else 1  # "_", and a comma between indices unless each is one character
        entry = (_subscript(("" if short else ",").join(parts)), width)
        self._remember(self._measured_subscripts, indices, entry, _MEASURED_LIMIT)
        return entry

    def _mproduct(self, factors: tuple[Expr, ...], lead: bool) -> tuple[str, int]:
        """`_print_Mul`'s text and its width (`·` between factors), a number or known symbol taken directly."""
        texts, width = [], -1
        numbers, leaves = self.numbers, self._measured_leaves
        for factor in factors:
            entry: tuple[str, int] | None = None
            if type(factor) is Var:
                if numbers:
                    value = factor.value  # type: ignore[attr-defined]
                    entry = self._measured_numbers.get(value) or self.measured_number(value)
                    if value < 0 and not lead:
                        entry = (self.paren(entry[0]), entry[1] + 2)
                else:
                    entry = leaves.get(id(factor.sym))  # type: ignore[attr-defined]
            if entry is None:
                entry = self._ms(factor, PRECEDENCE_MUL, lead)
            texts.append(entry[0])
            width += entry[1] + 1
            lead = False
        return r" \cdot ".join(texts), width

    def _ms(self, node: Expr, parent: int, lead: bool, strict: bool = False) -> tuple[str, int]:
        """`_sub(node, parent, lead, strict)` and its text's width: the same brackets in both printers."""
        kind = type(node)
        if kind is Var:
            if self.numbers:
                value = node.value  # type: ignore[attr-defined]
                latex, width = self.measured_number(value)
                return (self.paren(latex), width + 2) if value < 0 and not lead else (latex, width)
            node = node.sym  # type: ignore[attr-defined]
            kind = type(node)
        elif kind is Func:
            node = self.leaf(node)
            kind = type(node)
        latex, width = self._m(node, lead)
        if kind is Num:
            negative = node.value < 0 and not lead  # type: ignore[attr-defined]
            return (self.paren(latex), width + 2) if negative else (latex, width)
        if kind is Neg:
            return (latex, width) if lead else (self.paren(latex), width + 2)
        p = _PRECEDENCE.get(kind, PRECEDENCE_ATOM)
        return (self.paren(latex), width + 2) if (p < parent or (strict and p == parent)) else (latex, width)


_MEASURED_LIMIT = 1 << 17  # entries in `measured`'s caches, as the printers' own: memory stays bounded
_INDICES: dict[str, str] = {}  # an index's LaTeX by its text: symbols are made anew for each equation
_BASES: dict[str, str] = {}  # a map's or kernel's name (O1, K2, δO1) in LaTeX
_LETTERS_MATH: dict[str, str] = {}  # a symbol's base (w, δ, net) in LaTeX
_INPUT_INDEX = re.compile(r"([A-Za-z])(\d+)")


def _index_text(index: str) -> str:
    m = _INPUT_INDEX.fullmatch(index)
    if m:  # x1 (an input's index) is written x_1
        return m.group(1) + _subscript(m.group(2))
    return _spell(index).strip()


def _spell(text: str) -> str:
    """A symbol's name in math-mode ASCII: Greek letters and symbols as commands (followed by a space, so
    that \\delta O stays two tokens), any other non-ASCII character as text (see `latex_literal`); a combining
    accent over the character before it (x̂, written x and U+0302: \\hat{x})."""
    if not any(c in _MATH_ACCENTS for c in text):
        return "".join(_math_char(c) for c in text)
    out: list[str] = []
    for c in text:
        if c in _MATH_ACCENTS and out:
            out[-1] = _MATH_ACCENTS[c] + "{" + out[-1].strip() + "}"
        else:
            out.append(_math_char(c))
    return "".join(out)


_MATH_ACCENTS = {"\u0302": r"\hat"}  # the only accent a symbol has (x̂); \hat is in COMMANDS


def _math_char(c: str) -> str:
    if c in GREEK:
        return GREEK[c] + " "
    if c.isascii() and c.isprintable():  # symbols are the engine's, ASCII as LaTeX reads it
        return c
    if c in HATS:
        return r"\hat{" + HATS[c] + "}"
    if c in _MATH_SYMBOLS:
        command = _MATH_SYMBOLS[c]
        return command + " " if command[-1].isalpha() else command
    return r"\text{" + latex_literal(c) + "}"


def _subscript(text: str) -> str:
    """_4 for one character, _{14} for more."""
    return f"_{text}" if len(text) == 1 else f"_{{{text}}}"


def _short(index: str) -> bool:
    """Indices that need no comma between them: one character or a bracketed name."""
    return len(index) == 1 or index.startswith("(") or (index.startswith("\\") and " " not in index)


def latex_number(text: str) -> str:
    """format_number's text in LaTeX: 1.5e-7 -> 1.5 \\times 10^{-7}; nan, inf spelled as such."""
    if "e" in text and text not in ("inf", "-inf", "nan"):
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    if text in ("inf", "-inf"):
        return text.replace("inf", r"\infty")
    if text == "nan":
        return r"\mathrm{NaN}"
    return text


# ---- prose ------------------------------------------------------------------------------------
#
# Text-mode LaTeX is pure ASCII: every character outside printable ASCII is spelled with a command
# that a basic pdflatex knows (no Unicode fonts, no inputenc needed), and every ASCII character that
# means something to TeX is escaped one by one. A character with no spelling is written as its code
# point, `[U+263A]`: visible, and never a '?' that hides what was there.

_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# the whole Greek alphabet in math mode; the capitals that look Latin are upright Latin letters
_GREEK_MATH = {
    **GREEK,
    "ζ": r"\zeta",
    "ι": r"\iota",
    "κ": r"\kappa",
    "ν": r"\nu",
    "ξ": r"\xi",
    "ο": "o",
    "π": r"\pi",
    "ρ": r"\rho",
    "ς": r"\varsigma",
    "υ": r"\upsilon",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "ϵ": r"\epsilon",
    "ϑ": r"\vartheta",
    "ϕ": r"\phi",
    "ϱ": r"\varrho",
    "ϖ": r"\varpi",
    "Γ": r"\Gamma",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Ξ": r"\Xi",
    "Π": r"\Pi",
    "Υ": r"\Upsilon",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
    **{g: rf"\mathrm{{{a}}}" for g, a in zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧ", "ABEZHIKMNOPTX")},
}
# mathematical symbols, in math mode (text mode wraps them in $...$)
_MATH_SYMBOLS = {
    "−": "-",
    "·": r"\cdot",
    "×": r"\times",
    "÷": r"\div",
    "≠": r"\neq",
    "≤": r"\leq",
    "≥": r"\geq",
    "≈": r"\approx",
    "≡": r"\equiv",
    "∝": r"\propto",
    "∂": r"\partial",
    "∇": r"\nabla",
    "∑": r"\sum",
    "∏": r"\prod",
    "∫": r"\int",
    "√": r"\surd",
    "±": r"\pm",
    "∓": r"\mp",
    "∞": r"\infty",
    "∈": r"\in",
    "∉": r"\notin",
    "∀": r"\forall",
    "∃": r"\exists",
    "∅": r"\emptyset",
    "∩": r"\cap",
    "∪": r"\cup",
    "⊂": r"\subset",
    "⊆": r"\subseteq",
    "∧": r"\wedge",
    "∨": r"\vee",
    "¬": r"\neg",
    "∘": r"\circ",
    "⊙": r"\odot",
    "⊗": r"\otimes",
    "⊕": r"\oplus",
    "∗": r"\ast",
    "⋆": r"\star",
    "⌊": r"\lfloor",
    "⌋": r"\rfloor",
    "⌈": r"\lceil",
    "⌉": r"\rceil",
    "⟨": r"\langle",
    "⟩": r"\rangle",
    "‖": r"\|",
    "→": r"\rightarrow",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow",
    "⇐": r"\Leftarrow",
    "⇔": r"\Leftrightarrow",
    "↦": r"\mapsto",
    "↑": r"\uparrow",
    "↓": r"\downarrow",
    "⋮": r"\vdots",
    "⋯": r"\cdots",
    "⋱": r"\ddots",
    "′": r"{}^{\prime}",
    "″": r"{}^{\prime\prime}",
    "°": r"{}^{\circ}",
    "µ": r"\mu",
    "ℝ": r"\mathrm{R}",
    "ℓ": r"\ell",
    **_GREEK_MATH,
}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼ⁿⁱᵀ", "0123456789+-=niT"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌ₐₑₒₓₕₖₗₘₙₚₛₜ", "0123456789+-=aeoxhklmnpst"))
# Unicode in the trace's prose, in text mode (pdflatex has no Greek text font by default)
_TEXT_SYMBOLS = {
    **{k: f"${v}$" for k, v in _MATH_SYMBOLS.items()},
    **{k: rf"\textsuperscript{{{v}}}" for k, v in _SUPERSCRIPTS.items()},
    **{k: rf"\textsubscript{{{v}}}" for k, v in _SUBSCRIPTS.items()},
    "−": "$-$",
    "√": r"$\surd$",
    "½": r"$\frac{1}{2}$",
    "¼": r"$\frac{1}{4}$",
    "¾": r"$\frac{3}{4}$",
    "–": "--",
    "—": "---",
    "‐": "-",
    "‑": "-",
    "…": r"\ldots{}",
    "•": r"\textbullet{}",
    "⁽": "(",
    "⁾": ")",
    "ŷ": r"$\hat{y}$",
    "<": "$<$",
    ">": "$>$",
    "|": "$|$",
    "'": "'",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "‚": ",",
    "„": ",,",
    "«": "$<<$",
    "»": "$>>$",
    "\u00a0": "~",
    "\u202f": "~",
    "\u2009": r"\,",
    "\u00ad": "",
    "\u200b": "",
    "§": r"\S{}",
    "¶": r"\P{}",
    "©": r"\copyright{}",
    "£": r"\pounds{}",
    "€": "EUR",
    "†": r"\dag{}",
    "‡": r"\ddag{}",
    "¿": r"?`",
    "¡": r"!`",
}
# Latin letters that are not a letter plus accents
_LETTERS = {
    "ß": r"\ss{}",
    "æ": r"\ae{}",
    "Æ": r"\AE{}",
    "œ": r"\oe{}",
    "Œ": r"\OE{}",
    "ø": r"\o{}",
    "Ø": r"\O{}",
    "å": r"\aa{}",
    "Å": r"\AA{}",
    "ł": r"\l{}",
    "Ł": r"\L{}",
    "ı": r"\i{}",
    "ȷ": r"\j{}",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
}
# combining accents and the text-mode command that puts each over a letter
_ACCENTS = {
    "\u0300": r"\`",
    "\u0301": r"\'",
    "\u0302": r"\^",
    "\u0303": r"\~",
    "\u0304": r"\=",
    "\u0306": r"\u",
    "\u0307": r"\.",
    "\u0308": r"\"",
    "\u030a": r"\r",
    "\u030b": r"\H",
    "\u030c": r"\v",
    "\u0327": r"\c",
    "\u0323": r"\d",
    "\u0331": r"\b",
}


def latex_text(text: str) -> str:
    """Plain prose in text-mode LaTeX: specials escaped, Unicode maths spelled, x_mn as x\\textsubscript{mn}.

    Pure ASCII. For text from a network file (names, titles) use `latex_literal`, which shows every
    character as written (an underscore is an underscore there)."""
    return _text(text, subscripts=True)


def latex_literal(text: str) -> str:
    """Text from the network file in text-mode LaTeX, every character as written: pure ASCII, each
    special escaped, `[` and `]` in braces (so that no `\\\\` or `\\item` before them reads an option),
    no ligature made of two characters (`--`, `?``)."""
    return _text(text, subscripts=False)


# what `_text` changes in printable ASCII: a special, a bracket, a pair that would make a ligature
_CHANGED = re.compile(r"[^ -~]|[\\&%$#{}~^_<>|\[\]]|--|[?!]`|,,|''|``")
_TEXTS: dict[tuple[str, bool], str] = {}  # prose recurs (every block's note): each text spelled once


def _text(text: str, subscripts: bool) -> str:
    if not _CHANGED.search(text):  # most prose: printable ASCII that means nothing to TeX
        return "{}" + text if text.startswith("*") else text
    key = (text, subscripts)
    out = _TEXTS.get(key)
    if out is None:
        if len(_TEXTS) >= 1 << 12:
            _TEXTS.clear()
        out = _TEXTS[key] = _spelled(text, subscripts)
    return out


def _spelled(text: str, subscripts: bool) -> str:
    import unicodedata

    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "_":
            m = re.match(r"_(\([^)\s]*\)[A-Za-z0-9]*|[A-Za-z0-9]+)", text[i:]) if subscripts else None
            if m:
                out.append(r"\textsubscript{" + _spelled(m.group(1), True) + "}")
                i += m.end()
                continue
            out.append(r"\_")
        elif c in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[c])
        elif not subscripts and c in "[]":
            out.append("{" + c + "}")
        elif text[i : i + 2] == "--" or (not subscripts and text[i : i + 2] in ("?`", "!`", ",,", "''", "``")):
            out.append(c + "{}")  # not a ligature (an en dash, an inverted mark, a closing quote)
        elif c in _TEXT_SYMBOLS:
            out.append(_TEXT_SYMBOLS[c])
        elif c.isascii() and c.isprintable():
            out.append(c)
        elif c in _ACCENTS and out and out[-1]:  # a combining accent left over by NFC: over what came before
            out[-1] = _ACCENTS[c] + "{" + out[-1] + "}"
        else:
            out.append(_latin(c))
        i += 1
    result = "".join(out)
    return "{}" + result if result.startswith(("[", "*")) else result


def _latin(c: str) -> str:
    """Any other character: a Latin letter with accents spelled with accent commands (é -> \\'{e}), a few
    letters of their own (ß, æ, ø, ł), and anything else as its code point: [U+263A]."""
    import unicodedata

    if c in _LETTERS:
        return _LETTERS[c]
    decomposed = unicodedata.normalize("NFD", c)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks):
        out = {"i": r"\i", "j": r"\j"}.get(base, base) if "\u0323" not in marks else base
        for mark in marks:
            out = _ACCENTS[mark] + "{" + out + "}"
        return out
    return f"[U+{ord(c):04X}]"

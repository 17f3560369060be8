"""Printers over expression trees: one shared precedence table, one method per node class.

As in sympy's printing package, `Printer.doprint` dispatches to `_print_<NodeClass>`; a format
(plain text here, LaTeX elsewhere) is a subclass that supplies its own spelling of each node and
its own brackets. Numbers always go through `render.numbers.format_number`.
"""

from __future__ import annotations

import re
from typing import Any

from ..expr import Add, Call, Derivative, Div, Elem, Expr, Func, Mul, Name, Neg, Num, Partial, Pow, Sub, Sym, Var
from .numbers import _G, format_number

PRECEDENCE_ADD = 10
PRECEDENCE_NEG = 15
PRECEDENCE_MUL = 20
PRECEDENCE_POW = 30
PRECEDENCE_ATOM = 100


def precedence(node: Expr) -> int:
    if isinstance(node, (Add, Sub)):
        return PRECEDENCE_ADD
    if isinstance(node, Neg):
        return PRECEDENCE_NEG
    if isinstance(node, Num):
        return PRECEDENCE_NEG if node.value < 0 else PRECEDENCE_ATOM
    if isinstance(node, (Mul, Div)):
        return PRECEDENCE_MUL
    if isinstance(node, Pow):
        return PRECEDENCE_POW
    return PRECEDENCE_ATOM


# precedence() by node class, for the printers' inner loop (a Num's depends on its sign)
_PRECEDENCE = {
    Add: PRECEDENCE_ADD,
    Sub: PRECEDENCE_ADD,
    Neg: PRECEDENCE_NEG,
    Mul: PRECEDENCE_MUL,
    Div: PRECEDENCE_MUL,
    Pow: PRECEDENCE_POW,
}
_CACHE_LIMIT = 1 << 17  # entries in a printer's caches of numbers and symbols: memory stays bounded
_METHODS: dict[type, dict[type, Any]] = {}  # each printer class's `_print_` method of each node class
_LEAF_LIMIT = (
    1 << 14
)  # the text printer's bound leaves kept: the first met, each of a large layer's used hundreds of times
_COMBINING = re.compile("[\u0300-\u036f]")  # a combining mark: drawn over the character before it (x̂)


class Printer:
    """Walks a tree; subclasses spell the nodes. `max_terms` shortens long sums in the middle.

    Most equations are a product, a sum of products, or a difference of such, of numbers and symbols
    (every gradient, update and weighted input). `doprint` prints those shapes by a fast path that goes
    straight to the leaves' cached texts, spelled by the subclass's `MUL`, `SUB` and `ELLIPSIS`; any
    other shape, or a subclass that leaves them None, goes the general way. Both give the same text
    (tests/test_speed_paths.py compares them on every equation of every bundled network)."""

    MUL: str | None = None  # a product's operator, as the subclass's `_print_Mul` joins factors
    SUB: str | None = None  # a difference's operator, as `_print_Sub` writes it
    ELLIPSIS: str | None = None  # the term a shortened sum shows in its middle, as `_print_Add` writes it
    fast = True  # the fast path on (tests turn it off to compare)

    def __init__(self, precision: int = 4, max_terms: int | None = None) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.numbers = False  # while printing: a bound leaf (Var, Func) as its number / concrete name
        # the _print_ method of each node class, found once for each printer class (a property of the code)
        self._methods: dict[type, Any] = _METHODS.setdefault(type(self), {})
        self._numbers: dict[float, str] = {}  # formatted numbers: a factor recurs in many equations
        # printed symbols by identity (layers reuse them), and printed indices that are symbols (w_(x12),3):
        # every node with an entry is kept alive in `_kept`, so no other node can take its id while the printer lives
        self._symbols: dict[int, str] = {}
        self._indexes: dict[int, str] = {}
        self._subscripts: dict[int, str] = {}  # a symbol's subscript by its indices' identity (TextPrinter)
        self._kept: list[object] = []
        self._leaves: dict[int, tuple[str, str, str, str]] = {}  # a leaf's texts, by identity (TextPrinter)
        # the last product of two to four factors `_pair` walked, leading and not: (its factors, its texts but the
        # last factor's, each ending in the operator); the factors are kept alive by the entry (TextPrinter)
        self._runs: dict[bool, tuple[tuple[Expr, ...], str, str]] = {True: ((), "", ""), False: ((), "", "")}
        self._partial_head: tuple[Expr | None, str] = (None, "")  # a gradient's "∂E/∂" and its E (TextPrinter)
        # whether a text made from a node's own strings (a symbol's base and indices, a name) has had a combining
        # mark: numbers and operators never have one, so text printed while this is False has none (text.py
        # aligns columns by a slower rule only where there are marks)
        self.marks = False

    def doprint(self, node: Expr, numbers: bool = False) -> str:
        """`node` as text. A bound tree (see `bpexplain.expr`) prints as `symbolic(node)` would, or with
        `numbers` as `substitute(node)` would, without either tree being made."""
        self.numbers = numbers
        try:
            if self.fast and self.MUL is not None:
                text = self._fast(node)
                if text is not None:
                    return text
            return self._print(node, lead=True)
        finally:
            self.numbers = False

    def symbol(self, node: Expr) -> str:
        """An equation's symbol as `doprint` writes it (a symbol is never bound): looked up first, as most are."""
        return self._symbols.get(id(node)) or self._print(node, True)

    def columns(self, symbol: Expr, bound: Expr, value: float) -> tuple[str, str, str, str]:
        """An equation's texts: (`symbol(symbol)`, *`both(bound)`, `number(value)`), one call for the three
        (a subclass may walk them in one method: `TextPrinter` does)."""
        expression, substituted = self.both(bound)
        return self.symbol(symbol), expression, substituted, self._numbers.get(value) or self.number(value)

    # ---- the fast path: products and sums of numbers and symbols ----------------------------------

    def _fast(self, node: Expr) -> str | None:
        """`node` printed as `_print(node, lead=True)` would, when it has one of the common shapes; else None."""
        kind = type(node)
        if kind is Mul:
            return self._product(node.factors, True)  # type: ignore[attr-defined]
        if kind is Add:
            terms = node.terms  # type: ignore[attr-defined]
            out = []
            for k in self.kept(len(terms)):
                if k is None:
                    out.append(self.ELLIPSIS)
                    continue
                term = terms[k]
                text = self._product(term.factors, k == 0) if type(term) is Mul else self._leaf(term, k == 0)
                if text is None:
                    return None
                out.append(text)
            return " + ".join(out)  # type: ignore[arg-type]
        if kind is Sub:
            left, right = node.left, node.right  # type: ignore[attr-defined]
            first = self._product(left.factors, True) if type(left) is Mul else self._leaf(left, True)
            if first is None:
                return None
            second = self._product(right.factors, False) if type(right) is Mul else self._leaf(right, False)
            return None if second is None else first + self.SUB + second  # type: ignore[operator]
        return self._leaf(node, True)

    def both(self, node: Expr) -> tuple[str, str]:
        """(`doprint(node)`, `doprint(node, numbers=True)`): an equation's expression and its substituted
        numbers. The common shapes are walked once for both (`_pair`); any other goes the two ways."""
        if self.fast and self.MUL is not None:
            texts = self._both(node)
            if texts is not None:
                return texts
        return self.doprint(node), self.doprint(node, True)

    def _both(self, node: Expr) -> tuple[str, str] | None:
        kind = type(node)
        pair = self._pair
        if kind is Mul:
            return pair(node.factors, True)  # type: ignore[attr-defined]
        if kind is Add:
            terms = node.terms  # type: ignore[attr-defined]
            symbols, numbers = [], []
            for k in self.kept(len(terms)):
                if k is None:
                    symbols.append(self.ELLIPSIS)
                    numbers.append(self.ELLIPSIS)
                    continue
                term = terms[k]
                texts = pair(term.factors if type(term) is Mul else (term,), k == 0)
                if texts is None:
                    return None
                symbols.append(texts[0])
                numbers.append(texts[1])
            return " + ".join(symbols), " + ".join(numbers)  # type: ignore[arg-type]
        if kind is Sub:
            left, right = node.left, node.right  # type: ignore[attr-defined]
            first = pair(left.factors if type(left) is Mul else (left,), True)
            if first is None:
                return None
            second = pair(right.factors if type(right) is Mul else (right,), False)
            if second is None:
                return None
            sub = self.SUB
            return first[0] + sub + second[0], first[1] + sub + second[1]  # type: ignore[operator]
        return pair((node,), True)

    def _pair(self, factors: tuple[Expr, ...], lead: bool) -> tuple[str, str] | None:
        """A product of leaves (or one leaf) as `_product` writes it, in symbols and in numbers, in one pass.

        (Keeping each bound leaf's texts by identity, since a layer shares a step's leaves among its equations,
        was measured too: more instructions, not fewer, since most leaves are met only once or twice.)"""
        symbols, numbers = [], []
        cached, texts = self._symbols, self._numbers
        for factor in factors:
            if type(factor) is Var:
                value = factor.value  # type: ignore[attr-defined]
                number = texts.get(value) or self.number(value)
                numbers.append(self.paren(number) if value < 0 and not lead else number)
                text = cached.get(id(factor.sym)) or self._leaf(factor, lead)  # type: ignore[attr-defined]
                if text is None:
                    return None
                symbols.append(text)
            else:
                entry = self._leaf_texts(factor)
                if entry is None:
                    return None
                if lead:
                    symbols.append(entry[0])
                    numbers.append(entry[2])
                else:
                    symbols.append(entry[1])
                    numbers.append(entry[3])
            lead = False
        mul = self.MUL
        return mul.join(symbols), mul.join(numbers)  # type: ignore[union-attr, arg-type]

    def _leaf_texts(self, node: Expr) -> tuple[str, str, str, str] | None:
        """A leaf other than a bound one as `_leaf` writes it: in symbols leading and among operators, then
        with numbers likewise (the same but for a bound function inside, as in dσ(e)/de)."""
        text, between = self._leaf(node, True), self._leaf(node, False)
        if text is None or between is None:
            return None
        kind = type(node)
        if kind is Num or kind is Sym or kind is Elem:  # the same with numbers
            return text, between, text, between
        self.numbers = True
        try:
            number, among = self._leaf(node, True), self._leaf(node, False)
        finally:
            self.numbers = False
        if number is None or among is None:
            return None
        return text, between, number, among

    def _product(self, factors: tuple[Expr, ...], lead: bool) -> str | None:
        """A product of leaves as `_print_Mul` writes it (a product binds tighter than a sum: no brackets).

        A bound leaf (most factors) is looked up here, as `_leaf` would, without the call."""
        out = []
        numbers, symbols, texts = self.numbers, self._symbols, self._numbers
        text: str | None
        for factor in factors:
            if type(factor) is Var:
                if numbers:
                    value = factor.value  # type: ignore[attr-defined]
                    text = texts.get(value) or self.number(value)
                    if value < 0 and not lead:
                        text = self.paren(text)
                else:
                    text = symbols.get(id(factor.sym)) or self._leaf(factor, lead)  # type: ignore[attr-defined]
            else:
                text = self._leaf(factor, lead)
            if text is None:
                return None
            out.append(text)
            lead = False
        return self.MUL.join(out)  # type: ignore[union-attr, arg-type]

    def _leaf(self, node: Expr, lead: bool) -> str | None:
        """A number or symbol (dh_4(e)/de and ∂E/∂e_4 among them) as `_sub` writes it among operators: a
        negative number bracketed unless `lead`.

        `_sub` spells the same rules inline rather than calling this: it is the printers' hottest call."""
        kind = type(node)
        if kind is Var:
            if self.numbers:
                value = node.value  # type: ignore[attr-defined]
                text = self._numbers.get(value) or self.number(value)
                return self.paren(text) if value < 0 and not lead else text
            node = node.sym  # type: ignore[attr-defined]
            kind = type(node)
        if kind is Sym or kind is Elem or kind is Derivative:
            return self._symbols.get(id(node)) or self._print(node, lead)
        if kind is Num:
            value = node.value  # type: ignore[attr-defined]
            text = self._numbers.get(value) or self.number(value)
            return self.paren(text) if value < 0 and not lead else text
        if kind is Partial:  # ∂E/∂e_4 written as one symbol: an atom, as `_sub` prints it
            return self._print(node, lead)
        return None

    def _print(self, node: Expr, lead: bool = False) -> str:
        kind = type(node)
        # symbols recur in many equations: each printed once (dh_n(e)/de too, unless its h_n is bound)
        if kind is Sym or kind is Elem or (kind is Derivative and type(node.func) is not Func):  # type: ignore[attr-defined]
            text = self._symbols.get(id(node))
            if text is not None:
                return text
            return self._keep_symbol(node, (self._methods.get(kind) or self._method(kind))(self, node, lead))
        return (self._methods.get(kind) or self._method(kind))(self, node, lead)  # type: ignore[no-any-return]

    def _keep_symbol(self, node: Expr, text: str) -> str:
        """A symbol's text, first printed: kept by the node's identity (when full, the symbols met first, the
        layers', stay), and `marks` set when it has a combining mark."""
        self._note_marks(text)
        self._remember(self._symbols, node, text)
        return text

    def _note_marks(self, text: str) -> None:
        """`marks` set when `text`, made from a node's own strings, has a combining mark (x̂)."""
        if not text.isascii() and _COMBINING.search(text):
            self.marks = True

    def _remember(self, cache: dict[int, Any], node: object, value: Any, limit: int | None = None) -> None:
        """`value` cached for `node` by identity, the node kept alive so that no other takes its id while the
        printer lives; nothing once the cache holds `limit` entries (the module's `_CACHE_LIMIT` by default)."""
        if len(cache) < (_CACHE_LIMIT if limit is None else limit):
            cache[id(node)] = value
            self._kept.append(node)

    def _method(self, kind: type) -> Any:
        """The `_print_<Class>` method for a node class, found along its MRO once."""
        for cls in kind.__mro__:
            method = getattr(type(self), f"_print_{cls.__name__}", None)
            if method is not None:
                self._methods[kind] = method
                return method
        raise TypeError(f"{type(self).__name__} cannot print a {kind.__name__}")

    def leaf(self, node: Expr) -> Expr:
        """A bound leaf as this print reads it (its symbol, or its number); any other node as it is."""
        kind = type(node)
        if kind is Var:
            return Num(node.value) if self.numbers else node.sym  # type: ignore[attr-defined]
        if kind is Func:
            return node.concrete if self.numbers else node.symbolic  # type: ignore[attr-defined]
        return node

    def value_of(self, node: Expr) -> float | None:
        """The number `node` prints as, when it prints as a number."""
        kind = type(node)
        if kind is Num or (kind is Var and self.numbers):
            return node.value  # type: ignore[attr-defined, no-any-return]
        return None

    def paren(self, text: str) -> str:
        return f"({text})"

    def _sub(self, node: Expr, parent: int, lead: bool = False, strict: bool = False) -> str:
        """Print a child, bracketed when it binds less tightly than its parent."""
        kind = type(node)
        if kind is Var:
            if self.numbers:
                value = node.value  # type: ignore[attr-defined]
                text = self._numbers.get(value) or self.number(value)
                return self.paren(text) if value < 0 and not lead else text
            node = node.sym  # type: ignore[attr-defined]
            known = self._symbols.get(id(node))
            if known is not None:  # a symbol printed before: an atom, never bracketed
                return known
            kind = type(node)
        elif kind is Func:
            node = self.leaf(node)
            kind = type(node)
        text = self._print(node, lead)
        if kind is Num:
            return self.paren(text) if node.value < 0 and not lead else text  # type: ignore[attr-defined]
        if kind is Neg:
            return text if lead else self.paren(text)
        p = _PRECEDENCE.get(kind, PRECEDENCE_ATOM)
        return self.paren(text) if (p < parent or (strict and p == parent)) else text

    def shorten(self, items: list[str], ellipsis: str) -> list[str]:
        if self.max_terms is None or len(items) <= self.max_terms:
            return items
        head = max(self.max_terms // 2, 1)
        tail = max(self.max_terms - head, 1)
        return items[:head] + [ellipsis] + items[-tail:]

    def kept(self, n: int) -> list[int | None]:
        """The terms of a sum of `n` that `shorten` keeps, by index (None for the ellipsis), made without
        the terms, so that a sum of hundreds of terms costs only the terms shown."""
        if self.max_terms is None or n <= self.max_terms:
            return list(range(n))
        head = max(self.max_terms // 2, 1)
        tail = max(self.max_terms - head, 1)
        return [*range(head), None, *range(n - tail, n)]

    def _print_Var(self, node: Var, lead: bool) -> str:
        return self.number(node.value) if self.numbers else self._print(node.sym, lead)

    def _print_Func(self, node: Func, lead: bool) -> str:
        return self._print(node.concrete if self.numbers else node.symbolic, lead)

    def _print_Num(self, node: Num, lead: bool) -> str:
        return self.number(node.value)

    def number(self, value: float) -> str:
        text = self._numbers.get(value)
        if text is None:
            if len(self._numbers) >= _CACHE_LIMIT:
                self._numbers.clear()
            text = self._numbers[value] = self.format(value)
        return text

    def format(self, value: float) -> str:
        """A number in this printer's format (the one place a subclass re-spells numbers)."""
        return format_number(value, self.precision)


class TextPrinter(Printer):
    """Plain Unicode text: e_4 = w_14·y_1 + w_24·y_2, σ(0.39), dh_4(e)/de, ∂E/∂w_14."""

    MUL, SUB, ELLIPSIS = "·", " − ", "…"

    def columns(self, symbol: Expr, bound: Expr, value: float) -> tuple[str, str, str, str]:
        """`Printer.columns` in one method, the common shapes walked here: most of a large trace's equations
        are a gradient (∂E/∂w_mn = δ_n·dh_n(e)/de·y_m) or an update (w'_mn = w_mn − η·δ_n·dh_n(e)/de·y_m).

        A product whose factors but the last are those of the product before (`_pair`'s `_runs`: a dense layer's
        gradients of one unit, its updates' η·δ_n·dh_n(e)/de·y_m) is its last factor's texts added to that
        product's.

        An update's symbol w'_mn is made from the text of the w_mn it starts from (`w_mn − …`, printed in its
        gradient) where both have the same base, superscript and indices (one tuple, as the layers make them) and
        w_mn is not primed: as `_print_Sym` spells a symbol (base, prime, ^superscript, subscript), it is that
        text with a prime after its base. It is not kept (it costs as much to make again as to keep)."""
        cached = self._symbols
        text = cached.get(id(symbol))
        if text is None:
            kind = type(symbol)
            if kind is Partial:  # ∂E/∂w_mn, a new node for every weight: its parts are printed once
                of, wrt = symbol.of, symbol.wrt  # type: ignore[attr-defined]
                head = self._partial_head
                if of is not head[0]:  # "∂E/∂", kept for the next gradient of the same E (the node kept alive)
                    head = self._partial_head = (of, "∂" + (cached.get(id(of)) or self._print(of)) + "/∂")
                text = head[1] + (
                    cached.get(id(wrt)) or (self._new_symbol(wrt) if type(wrt) is Sym else self._print(wrt))
                )
            elif kind is Sym:  # w'_mn: met first here, made from w_mn's text where it can (see above)
                if type(bound) is Sub and type(bound.left) is Var and symbol.prime:  # type: ignore[attr-defined]
                    old = bound.left.sym  # type: ignore[attr-defined]
                    if type(old) is Sym and old.indices is symbol.indices and not old.prime:  # type: ignore[attr-defined]
                        text = cached.get(id(old))
                        if text is not None:
                            if old.base == symbol.base and old.superscript == symbol.superscript:  # type: ignore[attr-defined]
                                cut = len(old.base)
                                text = text[:cut] + "'" + text[cut:]
                            else:
                                text = None
                if text is None:
                    text = self._new_symbol(symbol)  # type: ignore[arg-type]
            elif kind is Elem:  # O1(1,2) = …: a map's element
                text = self._new_elem(symbol)  # type: ignore[arg-type]
            else:
                text = self._print(symbol, True)
        shown = self._numbers.get(value)
        if shown is None:  # `number`, inline
            precision = self.precision
            if 0 < precision <= 9:
                shown = format(value, _G[precision])
                if "e" in shown or shown == "-0":
                    shown = format_number(value, precision)
            else:
                shown = format_number(value, precision)
            # kept but for a gradient's: a new parameter's value is met again in the parameter tables
            if type(symbol) is not Partial and len(self._numbers) < _CACHE_LIMIT:
                self._numbers[value] = shown
        if self.fast:
            kind = type(bound)
            if kind is Mul:
                texts = self._pair(bound.factors, True)  # type: ignore[attr-defined]
            elif kind is Sub:
                left, right = bound.left, bound.right  # type: ignore[attr-defined]
                if type(left) is Var:  # w_mn − …: the leaf here, as `_pair` writes it leading
                    number = left.value  # type: ignore[attr-defined]
                    first = (
                        cached.get(id(left.sym)) or self._leaf(left, True),  # type: ignore[attr-defined]
                        self._numbers.get(number) or self.number(number),
                    )
                else:
                    first = self._pair(left.factors if type(left) is Mul else (left,), True)  # type: ignore[attr-defined, assignment]
                if first is not None and first[0] is not None:
                    second = self._pair(right.factors if type(right) is Mul else (right,), False)  # type: ignore[attr-defined]
                    if second is not None:
                        return text, first[0] + " − " + second[0], first[1] + " − " + second[1], shown
                texts = None
            elif kind is Call:  # y_4 = h_4(e_4) = σ(0.39): a bound function of bound leaves
                texts = self._call(bound)  # type: ignore[arg-type]
            else:
                texts = self._both(bound)
            if texts is not None:
                return text, texts[0], texts[1], shown
        return text, self.doprint(bound), self.doprint(bound, True), shown

    def _both(self, node: Expr) -> tuple[str, str] | None:
        """`Printer._both`, a sum's terms walked here (a weighted input's, a convolution's), each leaf's texts
        looked up as `_pair` looks them up; every other shape as there."""
        if type(node) is not Add:
            return Printer._both(self, node)
        terms = node.terms  # type: ignore[attr-defined]
        leaves, kept_leaf = self._leaves, self._kept_leaf
        symbols, numbers = [], []
        for k in self.kept(len(terms)):
            if k is None:
                symbols.append("…")
                numbers.append("…")
                continue
            term = terms[k]
            factors = term.factors if type(term) is Mul else (term,)  # type: ignore[attr-defined]
            entry = leaves.get(id(factors[0])) or kept_leaf(factors[0])
            if entry is None:
                return None
            if k == 0:  # leading: a negative number unbracketed
                symbol, number = entry[0], entry[2]
            else:
                symbol, number = entry[1], entry[3]
            for factor in factors[1:]:
                entry = leaves.get(id(factor)) or kept_leaf(factor)
                if entry is None:
                    return None
                symbol += "·" + entry[1]
                number += "·" + entry[3]
            symbols.append(symbol)
            numbers.append(number)
        return " + ".join(symbols), " + ".join(numbers)

    def _call(self, node: Call) -> tuple[str, str] | None:
        """A call of a bound function (h_4 as σ) on bound leaves as `_print_Call` writes it, in symbols and in
        numbers (`h_4(e_4)`, `σ(0.39)`: an argument is printed leading, never bracketed); None for any other."""
        func = node.func
        if type(func) is not Func or type(func.concrete) is not Name:  # type: ignore[attr-defined]
            return None
        cached, numbers = self._symbols, self._numbers
        symbols, values = [], []
        for arg in node.args:
            if type(arg) is not Var:
                return None
            value = arg.value  # type: ignore[attr-defined]
            symbols.append(cached.get(id(arg.sym)) or self._print(arg.sym, True))  # type: ignore[attr-defined]
            values.append(numbers.get(value) or self.number(value))
        name = self._print_Name(func.concrete, False)  # type: ignore[attr-defined]
        return (
            self._print(func.symbolic) + "(" + ", ".join(symbols) + ")",  # type: ignore[attr-defined]
            name + "(" + ", ".join(values) + ")",
        )

    def _pair(self, factors: tuple[Expr, ...], lead: bool) -> tuple[str, str] | None:
        """`Printer._pair`, each leaf's four texts (see `_leaf_texts`) kept by its identity: a layer shares a step's
        leaves among its equations (δ_n and dh_n(e)/de in every gradient and update of unit n, y_m in those of
        every unit m feeds), hundreds of times each in a large layer.

        A product of two to four factors whose factors but the last are the very nodes of the product before
        (`_runs`: a dense layer's gradients and updates of unit n, δ_n·dh_n(e)/de·y_m for every m) takes its
        texts but the last factor's from that product's: the same leaves, so the same texts.

        (Joining the texts by `map` over a list of the entries was measured: slower, for products of one to four
        factors.)"""
        n = len(factors)
        leaves = self._leaves
        if 1 < n <= 4:
            run = self._runs[lead]
            before = run[0]
            if (
                len(before) == n
                and factors[n - 2] is before[n - 2]
                and factors[0] is before[0]
                and (n < 4 or factors[1] is before[1])
            ):
                last = factors[-1]
                entry = leaves.get(id(last)) or self._kept_leaf(last)
                if entry is not None:
                    return run[1] + entry[1], run[2] + entry[3]
        symbols, numbers = [], []
        leading = lead
        for factor in factors:
            entry = leaves.get(id(factor)) or self._kept_leaf(factor)
            if entry is None:
                return None
            if lead:
                symbols.append(entry[0])
                numbers.append(entry[2])
                lead = False
            else:
                symbols.append(entry[1])
                numbers.append(entry[3])
        if 1 < n <= 4:  # kept for the next product with the same factors but the last
            head_symbols = "·".join(symbols[:-1]) + "·"
            head_numbers = "·".join(numbers[:-1]) + "·"
            self._runs[leading] = (factors, head_symbols, head_numbers)
            return head_symbols + symbols[-1], head_numbers + numbers[-1]
        return "·".join(symbols), "·".join(numbers)

    def _kept_leaf(self, node: Expr) -> tuple[str, str, str, str] | None:
        """A leaf's texts as `_leaf_texts` gives them, kept by the node's identity (the node kept alive)."""
        if type(node) is Var:
            value = node.value  # type: ignore[attr-defined]
            sym = node.sym  # type: ignore[attr-defined]
            text = self._symbols.get(id(sym))
            if text is None:
                kind = type(sym)
                text = (
                    self._new_symbol(sym)  # type: ignore[arg-type]
                    if kind is Sym
                    else self._new_elem(sym)  # type: ignore[arg-type]
                    if kind is Elem
                    else self._leaf(node, True)
                )
            if text is None:
                return None
            number = self._numbers.get(value) or self.number(value)
            entry = (text, text, number, "(" + number + ")" if value < 0 else number)
        elif type(node) is Sub:  # (1 − y_4) in y_4·(1 − y_4): a difference of leaves, bracketed, not kept
            return self._difference(node)  # type: ignore[arg-type]
        else:
            entry = self._leaf_texts(node)  # type: ignore[assignment]
            if entry is None:
                return None
        leaves = self._leaves
        if len(leaves) < _LEAF_LIMIT and len(leaves) < _CACHE_LIMIT:  # `_remember`, inline
            leaves[id(node)] = entry
            self._kept.append(node)
        return entry

    def _difference(self, node: Sub) -> tuple[str, str, str, str] | None:
        """A difference of two leaves as a factor of a product, as `_print_Mul` writes it (`_sub` brackets it, a
        sum binding less tightly than a product): its four texts as `_leaf_texts` orders them. Inside the
        brackets `_print_Sub` writes the left leaf leading where the difference leads (a negative number bare) and
        the right one among operators; None where either side is not a leaf."""
        leaves = self._leaves
        left, right = node.left, node.right
        if type(left) is Sub or type(right) is Sub:  # (a − b − c): the inner difference unbracketed on the left
            return None
        first = leaves.get(id(left)) or self._kept_leaf(left)
        second = leaves.get(id(right)) or self._kept_leaf(right)
        if first is None or second is None:
            return None
        symbol, number = " − " + second[1] + ")", " − " + second[3] + ")"
        return (
            "(" + first[0] + symbol,
            "(" + first[1] + symbol,
            "(" + first[2] + number,
            "(" + first[3] + number,
        )

    def number(self, value: float) -> str:
        """`Printer.number`, `format_number`'s common case inline (Python's `g` format, where it writes the same)."""
        text = self._numbers.get(value)
        if text is None:
            if len(self._numbers) >= _CACHE_LIMIT:
                self._numbers.clear()
            precision = self.precision
            if 0 < precision <= 9:  # see format_number: no fixed notation from 1e9 up at these precisions
                text = format(value, _G[precision])
                if "e" in text or text == "-0":
                    text = format_number(value, precision)
            else:
                text = format_number(value, precision)
            self._numbers[value] = text
        return text

    def symbol(self, node: Expr) -> str:
        """`Printer.symbol`, a `Sym` met for the first time printed and kept by `_new_symbol` (the legend's, the
        parameter tables')."""
        text = self._symbols.get(id(node))
        if text is None:
            text = self._new_symbol(node) if type(node) is Sym else self._print(node, True)  # type: ignore[arg-type]
        return text

    def _print(self, node: Expr, lead: bool = False) -> str:
        """`Printer._print`, a `Sym` (most nodes printed for the first time) by `_new_symbol`, without the
        dispatch; every other node as there."""
        kind = type(node)
        if kind is Sym:
            return self._symbols.get(id(node)) or self._new_symbol(node)  # type: ignore[arg-type]
        if kind is Elem:  # a map's element, K1(1,2), δO1(2,3): as a Sym
            return self._symbols.get(id(node)) or self._new_elem(node)  # type: ignore[arg-type]
        return super()._print(node, lead)

    def _new_elem(self, node: Elem) -> str:
        """An `Elem` not printed before, printed and kept as `_print` does: a convolution's kernel and map
        elements are met first in its sums."""
        return self._keep_symbol(node, self._print_Elem(node, True))

    def _new_symbol(self, node: Sym) -> str:
        """A `Sym` not printed before, printed and kept as `_print` does, in one call: every weight's symbol is
        met first in its gradient's symbol (∂E/∂w_(x425),10) and its primed twin in its update's."""
        return self._keep_symbol(node, self._print_Sym(node, True))

    def _print_Sym(self, node: Sym, lead: bool) -> str:
        text = node.base + "'" if node.prime else node.base
        if node.superscript:
            text += "^" + node.superscript
        indices = node.indices
        if not indices:
            return text
        if len(indices) == 1 and type(indices[0]) is str:  # e_4, δ_14: made, not kept (cheaper than a lookup)
            return text + "_" + indices[0]
        if len(indices) == 2:  # a weight's (w_mn): made, not kept, as `_new_symbol` makes it
            return text + self._subscript(indices)
        return text + (self._subscripts.get(id(indices)) or self._subscript(indices))

    def _subscript(self, indices: tuple[str | Sym, ...]) -> str:
        """A symbol's subscript (`_14`, `_(x12),3`): its parts run together, or with commas where one is more than a
        character and not bracketed (`_1,101`). A weight's two parts are made each time (cheaper than keeping them:
        a weight's symbol is printed once, its primed twin made from its text); longer ones are kept by the
        indices' identity."""
        # an index is a string (w_14) or a named unit's symbol, bracketed (w_(h1)(o1)): those recur, printed once
        if len(indices) == 2:  # a weight's (w_mn): the rule below, spelled out for two parts
            a, b = indices
            if type(a) is not str:
                a = self._indexes.get(id(a)) or self._index(a)
            if type(b) is not str:
                b = self._indexes.get(id(b)) or self._index(b)
            if (len(a) == 1 or a[:1] == "(") and (len(b) == 1 or b[:1] == "("):  # type: ignore[arg-type]
                return "_" + a + b  # type: ignore[operator]
            return "_" + a + "," + b  # type: ignore[operator]
        parts = [i if type(i) is str else self._index(i) for i in indices]
        subscript = "_" + "".join(parts)
        for part in parts:
            if len(part) != 1 and part[:1] != "(":
                subscript = "_" + ",".join(parts)
                break
        if len(self._subscripts) < _CACHE_LIMIT:  # `_remember`, inline
            self._subscripts[id(indices)] = subscript
            self._kept.append(indices)
        return subscript

    def _print_Elem(self, node: Elem, lead: bool) -> str:
        text = node.base + "'" if node.prime else node.base
        if node.superscript:
            text += "^" + node.superscript
        return text + "(" + ",".join([i if type(i) is str else self._index(i) for i in node.indices]) + ")"

    def _index(self, index: str | Sym) -> str:
        if type(index) is str:
            return index
        known = self._indexes.get(id(index))
        if known is not None:
            return known
        text = "(" + index.base + "".join(str(i) for i in index.indices) + ")"  # type: ignore[union-attr, operator]
        self._note_marks(text)
        self._remember(self._indexes, index, text)
        return text

    def _print_Name(self, node: Name, lead: bool) -> str:
        self._note_marks(node.text)
        return node.text

    def _print_Derivative(self, node: Derivative, lead: bool) -> str:
        self._note_marks(node.var)
        return f"d{self._print(node.func)}({node.var})/d{node.var}"

    def _print_Partial(self, node: Partial, lead: bool) -> str:
        of, wrt, symbols = node.of, node.wrt, self._symbols
        return f"∂{symbols.get(id(of)) or self._print(of)}/∂{symbols.get(id(wrt)) or self._print(wrt)}"

    def _print_Add(self, node: Add, lead: bool) -> str:
        terms = node.terms
        return " + ".join(
            ["…" if k is None else self._sub(terms[k], PRECEDENCE_ADD, lead and k == 0) for k in self.kept(len(terms))]
        )

    def _print_Sub(self, node: Sub, lead: bool) -> str:
        return f"{self._sub(node.left, PRECEDENCE_ADD, lead)} − {self._sub(node.right, PRECEDENCE_ADD, strict=True)}"

    def _print_Neg(self, node: Neg, lead: bool) -> str:
        return "−" + self._sub(node.operand, PRECEDENCE_MUL)

    def _print_Mul(self, node: Mul, lead: bool) -> str:
        return "·".join([self._sub(f, PRECEDENCE_MUL, lead and i == 0) for i, f in enumerate(node.factors)])

    def _print_Div(self, node: Div, lead: bool) -> str:
        if self.value_of(node.numerator) == 1 and self.value_of(node.denominator) == 2:
            return "½"
        numerator = self._sub(node.numerator, PRECEDENCE_MUL, lead)
        return f"{numerator}/{self._sub(node.denominator, PRECEDENCE_MUL, strict=True)}"

    def _print_Pow(self, node: Pow, lead: bool) -> str:
        base = self._sub(node.base, PRECEDENCE_POW, strict=True)
        if self.value_of(node.exponent) == 2:
            return base + "²"
        return f"{base}^{self._sub(node.exponent, PRECEDENCE_POW, strict=True)}"

    def _print_Call(self, node: Call, lead: bool) -> str:
        return f"{self._print(node.func)}({', '.join(self._print(a, True) for a in node.args)})"

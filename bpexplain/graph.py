"""The network as a graph: which layers each layer reads, and which read it, computed once from the spec.

The file's order is a topological order (a layer names only earlier layers in `inputs:`), so the forward
pass walks the layers in file order and the backward pass in reverse, adding the gradients that reach a
value from each layer it feeds.
"""

from __future__ import annotations

from typing import Final

from .record import Record
from .spec import INPUT, NetworkSpec

NETWORK_INPUT = -1  # the index standing for the network's input among a layer's sources


class Graph(Record):
    __slots__ = __match_args__ = ("sources", "consumers")

    def __init__(
        self, sources: tuple[tuple[int, ...], ...], consumers: tuple[tuple[tuple[int, int], ...], ...]
    ) -> None:
        self.sources: Final = sources  # per layer: the index of each input (NETWORK_INPUT for the network's)
        self.consumers: Final = consumers  # per layer: (layer, input slot) of every layer that reads it

    @property
    def is_chain(self) -> bool:
        """Does every layer read just the one above it (the network's input for the first)?"""
        return all(src == (i - 1 if i else NETWORK_INPUT,) for i, src in enumerate(self.sources))


def graph_of(spec: NetworkSpec) -> Graph:
    index = {ls.name: i for i, ls in enumerate(spec.layers)}
    sources = tuple(tuple(NETWORK_INPUT if name == INPUT else index[name] for name in ls.inputs) for ls in spec.layers)
    consumers: list[list[tuple[int, int]]] = [[] for _ in spec.layers]
    for i, srcs in enumerate(sources):
        for slot, src in enumerate(srcs):
            if src != NETWORK_INPUT:
                consumers[src].append((i, slot))
    return Graph(sources, tuple(tuple(c) for c in consumers))

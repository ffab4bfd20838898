"""The chip tree, built: every fact that depends on how many of something the chip has is one walk over it.

:func:`cimsim.spec.arch.chip_tree` declares the containers and fan-outs; :func:`build_tree` attaches the built
components (and their parts, as children) and evaluates the fan-outs. From the built tree:

- :func:`instance_counts`: copies of every component instance (the chip as built, or as used by a mapping);
- :func:`gated_names`: instances power-gated with their tile;
- :func:`event_keys`: the ``"instance.action"`` keys an array-level event fires (:mod:`cimsim.components.contracts`);
- :func:`capacity`: tiles and arrays per tile, from the declaration alone (the mapping needs it before any
  component is built).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cimsim.components.base import Component
from cimsim.spec.arch import ArchSpec, TreeNode, chip_tree


@dataclass(frozen=True)
class Node:
    """A built node: ``fanout`` copies per parent of ``component`` (None: a container), with its children."""

    name: str
    fanout: int
    component: Component | None
    children: tuple[Node, ...]
    gated: bool = False


@dataclass(frozen=True)
class Capacity:
    """How many arrays the chip offers a mapping."""

    tiles: int
    arrays_per_tile: int

    @property
    def arrays(self) -> int:
        return self.tiles * self.arrays_per_tile


def evaluate_fanout(expr: int | str, components: dict[str, Component]) -> int:
    """Value of a declared fan-out: an int, or ``"<instance>.<attr>"`` terms joined by ``*`` and ``/``
    (``/`` rounds up). ValueError names an unknown instance or attribute, or any other syntax."""
    if isinstance(expr, int):
        return expr

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            comp = components.get(node.value.id)
            if comp is None or not hasattr(comp, node.attr):
                raise ValueError(f"fan-out {expr!r}: no built instance attribute {node.value.id}.{node.attr}")
            return int(getattr(comp, node.attr))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            a, b = ev(node.left), ev(node.right)
            return a * b if isinstance(node.op, ast.Mult) else -(-a // b)
        raise ValueError(f"fan-out {expr!r}: only integers and instance.attribute terms joined by * and /")

    return ev(ast.parse(expr, mode="eval").body)


def build_tree(decl: TreeNode, components: dict[str, Component]) -> Node:
    """Attach the built ``components`` (by instance name) to the declaration; a component's parts become its
    children (fan-out: the instances per instance of the component that its :meth:`parts` gives)."""
    comp = components.get(decl.name) if decl.section is not None else None
    children = [build_tree(c, components) for c in decl.children]
    if comp is not None:
        children += [Node(name, per, part, ()) for name, (part, per) in comp.parts().items()]
    return Node(decl.name, evaluate_fanout(decl.fanout, components), comp, tuple(children), decl.gated)


def walk(node: Node, used: Any = None, copies: int = 1, gated: bool = False) -> Iterator[tuple[Node, int, bool]]:
    """Every node with its copies on the chip and whether a gated container holds it. With ``used`` (a
    :class:`cimsim.mapping.Mapping`), a component whose ``used_instances(mapping)`` is not None counts that many."""
    copies *= node.fanout
    if used is not None and node.component is not None:
        wired = node.component.used_instances(used)
        copies = copies if wired is None else wired
    yield node, copies, gated
    for child in node.children:
        yield from walk(child, used, copies, gated or node.gated)


def instance_counts(root: Node, used: Any = None) -> dict[str, int]:
    """Copies of every component instance (summed over the places it sits), in walk order."""
    out: dict[str, int] = {}
    for node, copies, _ in walk(root, used):
        if node.component is not None:
            out[node.name] = out.get(node.name, 0) + copies
    return out


def container_counts(root: Node) -> dict[str, int]:
    """Copies of every container (chip, tile, levels, array)."""
    out: dict[str, int] = {}
    for node, copies, _ in walk(root):
        if node.component is None:
            out[node.name] = out.get(node.name, 0) + copies
    return out


def gated_names(root: Node) -> frozenset[str]:
    """Instances inside a power-gated container (they leak only while their tile is used)."""
    return frozenset(n.name for n, _, gated in walk(root) if gated and n.component is not None)


def event_keys(root: Node, event: str) -> list[str]:
    """``"instance.action"`` of every instance whose component lists ``event`` in its ``TRIGGERS``."""
    keys: list[str] = []
    for node, _, _ in walk(root):
        action = node.component.TRIGGERS.get(event) if node.component is not None else None
        if action is not None and f"{node.name}.{action}" not in keys:
            keys.append(f"{node.name}.{action}")
    return keys


def _containers_below(node: TreeNode, name: str) -> int | None:
    """Copies of container ``name`` inside one ``node`` (None: not below it)."""
    for child in node.children:
        if child.section is not None:
            continue
        if child.name == name:
            return int(child.fanout)
        got = _containers_below(child, name)
        if got is not None:
            return int(child.fanout) * got
    return None


def capacity(arch: ArchSpec) -> Capacity:
    """Tiles and arrays per tile of the declared tree (containers only). ``chip.tiles: auto`` (not yet settled)
    gives ``tiles = 0``: the arrays per tile are what sizing the chip needs."""
    settled = arch.chip.tiles != "auto"
    if not settled:
        arch = arch.model_copy(update={"chip": arch.chip.model_copy(update={"tiles": 1})})
    root = chip_tree(arch)
    tiles = _containers_below(root, "tile")
    tile = next(n for n in _walk_decl(root) if n.name == "tile" and n.section is None)
    per_tile = _containers_below(tile, "array")
    if tiles is None or per_tile is None:
        raise ValueError("the chip tree has no tile or no array container")
    return Capacity(tiles=tiles if settled else 0, arrays_per_tile=per_tile)


def _walk_decl(node: TreeNode) -> Iterator[TreeNode]:
    yield node
    for child in node.children:
        yield from _walk_decl(child)

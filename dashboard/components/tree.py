"""The outcome tree as a Graphviz graph: revenue at the root, each node coloured by its status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dashboard.components.status import status_style


def _dot_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def tree_dot(nodes: Iterable[Mapping[str, Any]], direction: str | None = None) -> str:
    """Graphviz DOT source for the outcome tree: root at the top (TB), or at the left (LR) when
    the tree has more than four leaves, so a wide tree stays readable.

    Each node mapping has: node, parent, label, status, the display lines `lines` (value,
    target, change, progress) and optionally a hover `tooltip`; the fill and border colours follow the status, and the status is also
    written in words on the node.
    """
    nodes = list(nodes)
    parents = {n.get("parent") for n in nodes}
    leaves = sum(1 for n in nodes if n["node"] not in parents)
    rankdir = direction or ("LR" if leaves > 4 else "TB")
    out = [
        "digraph outcome_tree {",
        f'  graph [rankdir={rankdir}, bgcolor="transparent", nodesep=0.25, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
        'penwidth=2, margin="0.18,0.08"];',
        '  edge [color="#9e9e9e", arrowhead=none, penwidth=1.4];',
    ]
    for n in nodes:
        style = status_style(n.get("status"))
        lines = [str(n.get("label") or n["node"]), *n.get("lines", ()), style.words.upper()]
        label = _dot_string("\n".join(lines))
        tooltip = f', tooltip="{_dot_string(n["tooltip"])}"' if n.get("tooltip") else ""
        out.append(
            f'  "{_dot_string(str(n["node"]))}" [label="{label}", fillcolor="{style.fill}", '
            f'color="{style.color}", fontcolor="#1f1f1f"{tooltip}];'
        )
    for n in nodes:
        if n.get("parent"):
            out.append(f'  "{_dot_string(str(n["parent"]))}" -> "{_dot_string(str(n["node"]))}";')
    out.append("}")
    return "\n".join(out)

"""Shared by the fuzz tests: mutate one node of a JSON document (replace it with arbitrary
JSON, delete it, or duplicate it), so a parser can be shown to raise only VicheError."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ACTIONS = ("replace", "delete", "duplicate")


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of ``value`` as a path of keys and indices (the root is ``()``)."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += json_paths(v, (*prefix, i))
    return out


def json_values(
    leaves: st.SearchStrategy[Any], *, key_size: int, max_leaves: int
) -> st.SearchStrategy[Any]:
    """Arbitrary small JSON built from ``leaves``."""
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=key_size), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def mutate_node(data: st.DataObject, root: Any, action: str, values: st.SearchStrategy[Any]) -> Any:
    """Apply ``action`` to one node of ``root`` drawn by ``data``; returns the new root."""
    path = data.draw(st.sampled_from(json_paths(root)))
    if not path:
        return data.draw(values)
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = data.draw(values)
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, list):
        parent.insert(last, parent[last])
    else:
        parent[last] = [parent[last], parent[last]]
    return root

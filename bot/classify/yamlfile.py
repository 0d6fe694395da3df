"""YAML as lexicon files use it, read fast: libyaml's parser, and one walk that builds the
plain strings, lists and mappings a lexicon is made of.
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser when PyYAML has it (its wheels do): the same documents, read ~10x faster,
# which is most of the classifier's start-up.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")
)  # fmt: skip
_MERGE = "tag:yaml.org,2002:merge"


def load_yaml(text: str) -> Any:
    """yaml.load(text, Loader=_YAML_LOADER), with the plain strings, lists and mappings that
    lexicons are made of built by one recursive walk of the composed nodes: PyYAML's own
    constructor, generators and all, took as long as libyaml's parsing. Other nodes (a merge
    key, a timestamp) are built by PyYAML's constructor, as before."""
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(loader, node)
    finally:
        loader.dispose()


def _build(loader: Any, node: yaml.Node) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    if isinstance(node, yaml.SequenceNode) and tag == "tag:yaml.org,2002:seq":
        return [_build(loader, n) for n in node.value]
    if (
        isinstance(node, yaml.MappingNode)
        and tag == "tag:yaml.org,2002:map"
        and not any(k.tag == _MERGE for k, _ in node.value)
    ):
        out = {}
        for k, v in node.value:
            key = _build(loader, k)
            try:
                out[key] = _build(loader, v)
            except TypeError:  # an unhashable key: PyYAML's message
                return loader.construct_document(node)
        return out
    if tag in _SCALARS:
        return loader.construct_object(node)
    return loader.construct_document(node)

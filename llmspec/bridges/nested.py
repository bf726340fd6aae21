"""Read a nested YAML config (LitGPT, torchtune) as dotted keys with each key's own line:col.

`train: {micro_batch_size: 2}` becomes the entry `train.micro_batch_size` at the position of `micro_batch_size`.
A mapping is walked into unless its dotted key is a leaf of the tool (``is_leaf``: a key whose value is a whole
dict, such as LitGPT's log.metadata). This is a minimal reader kept in the bridges of the nested tools until the
shared reader (llmspec.bridges.yamlfile) keeps nested positions itself; syntax errors are reported by that reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from llmspec.bridges.yamlfile import BridgeError, Entry, read_yaml
from llmspec.spec.tomltext import read_text


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `lr: 3e-4` (no dot) as text; OmegaConf (torchtune) and jsonargparse (LitGPT) both add this
    float resolver (omegaconf/_utils.py:get_yaml_loader, jsonargparse/_loaders_dumpers.py), so read it as they do."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def read_nested(path: str, is_leaf: Callable[[str], bool]) -> list[Entry]:
    read_yaml(path)  # the shared reader's one-line errors: syntax, empty file, not a mapping, duplicate top key
    text = read_text(path)
    root = yaml.compose(text, Loader=_Loader)
    assert isinstance(root, yaml.MappingNode)  # read_yaml refused everything else
    constructor = _Loader(text)
    entries: list[Entry] = []
    try:
        _walk(path, root, "", is_leaf, constructor, entries)
    except yaml.YAMLError as exc:
        raise BridgeError(f"{path}:1:1: YAML error: {exc}; fix the YAML") from None
    finally:
        constructor.dispose()
    return entries


def _walk(path: str, node: yaml.MappingNode, prefix: str, is_leaf: Callable[[str], bool],
          constructor: _Loader, entries: list[Entry]) -> None:
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = f"{prefix}{constructor.construct_object(key_node, deep=True)}"
        line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        if key in seen:
            raise BridgeError(f"{path}:{line}:{col}: duplicate key {key!r}; keep one of them")
        seen.add(key)
        if isinstance(value_node, yaml.MappingNode) and value_node.value and not is_leaf(key):
            _walk(path, value_node, key + ".", is_leaf, constructor, entries)
        else:
            entries.append(Entry(key, constructor.construct_object(value_node, deep=True), line, col))

"""YAML that remembers where every value came from, so errors can name the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.config.errors import ConfigError, ConfigIssue, format_field

Path_ = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML file and the line of every mapping key and sequence item in it."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest part of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def issue(self, path: Path_, message: str, warning: bool = False) -> ConfigIssue:
        """The problem `message` at `path`, with the line it is on."""
        return ConfigIssue(self.file, self.line_of(path), format_field(path), message, warning)


def read_yaml(file: Path) -> YamlDocument:
    """Parse `file`; a missing file, a syntax error or a duplicate key is a `ConfigError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        issue = ConfigIssue(file, None, "", f"cannot read: {error.strerror}")
        raise ConfigError([issue]) from error
    document = YamlDocument(file, None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document.data = {} if node is None else _build(loader, node, (), document)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError([ConfigIssue(file, line, "", f"YAML syntax: {error.problem}")]) from error
    finally:
        loader.dispose()
    return document


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, doc: YamlDocument) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(loader, node, path, doc)
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _build_mapping(
    loader: yaml.SafeLoader, node: yaml.MappingNode, path: Path_, doc: YamlDocument
) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            line = key_node.start_mark.line + 1
            raise ConfigError([ConfigIssue(doc.file, line, "", f"duplicate key {key!r}")])
        doc.lines[(*path, key)] = key_node.start_mark.line + 1  # the key's line, not the value's
        result[key] = _build(loader, value_node, (*path, key), doc)
    return result

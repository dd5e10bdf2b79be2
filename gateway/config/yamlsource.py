"""YAML that remembers where every value came from, so errors can name the line.

A site file is written by hand for one site, and a file that names a folder, a device or a
secret is read by a process that may run as root on the box, so only plain YAML is accepted:

- no anchors or aliases (`&name`, `*name`): ten lines of nested aliases ("billion laughs")
  expand to gigabytes, and a value written once but used in two places would make every error
  in it name the wrong line; no site file needs them;
- at most `MAX_DEPTH` levels of nesting (a site file needs six): deeper input would exhaust
  the parser's stack;
- only the plain YAML types (text, numbers, true/false, null, lists and mappings): no
  `!!binary`, `!!set`, `!!timestamp` or other tags, and dates stay text (`2024-02-30` is not an
  error of the file's, just text);
- no NaN or infinity (`.nan`, `.inf`, `1e999`), and no control characters in text (a NUL or
  an escape sequence would reach topics, log lines and the operators' screens).

Each refusal is a `ConfigError` naming the file and the line, never a traceback.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gateway.config.errors import ConfigError, ConfigIssue, format_field
from gateway.config.textfile import MAX_CONFIG_BYTES, TextFileError, read_text_file

Path_ = tuple[Any, ...]
"""Where a value is: mapping keys (usually text) and list indexes, `('devices', 7, 'zone')`."""

MAX_DEPTH = 32
"""Levels of nesting a file may have; the deepest in a site or profile file is about six."""

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null"))
_COLLECTION_TAGS = frozenset({f"{_TAG}seq", f"{_TAG}map"})
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters other than tab and line breaks, and the bidirectional overrides that
make text read differently from what it says."""
_SHOWN_CHARS = 40


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
    """Parse `file`; an unreadable file, a syntax error, a duplicate key or anything the
    module docstring lists as refused is a `ConfigError` naming the line."""
    text = _text_of(file)
    document = YamlDocument(file, {}, {(): 1})
    try:
        loader = _SiteLoader(text)  # reads every character first
    except yaml.reader.ReaderError as error:
        raise ConfigError([_unreadable_character(file, text, error)]) from None
    try:
        _read_document(loader, document)
    except _Refused as refused:
        raise ConfigError([document.issue(refused.path, refused.message)]) from None
    except _RefusedAt as refused:
        raise ConfigError([ConfigIssue(file, refused.line, "", refused.message)]) from None
    except yaml.reader.ReaderError as error:
        raise ConfigError([_unreadable_character(file, text, error)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        problem = f"YAML syntax: {error.problem}"
        if error.problem == _LIBYAML_TOO_DEEP:  # its limit is deeper than ours, seen sooner
            problem = _TOO_DEEP
        raise ConfigError([ConfigIssue(file, line, "", problem)]) from None
    except yaml.YAMLError as error:  # the remaining kinds carry no position
        raise ConfigError([ConfigIssue(file, 1, "", f"YAML syntax: {error}")]) from None
    finally:
        loader.dispose()
    return document


def _text_of(file: Path) -> str:
    try:
        return read_text_file(file, MAX_CONFIG_BYTES)
    except TextFileError as error:
        if error.line is None:  # the documented form without a line: `file: cannot read: ...`
            issue = ConfigIssue(file, None, "", f"cannot read: {error.reason}")
        else:
            message = f"{error.reason}: byte 0x{error.byte or 0:02x} cannot be read as a character"
            issue = ConfigIssue(file, error.line, "", message)
        raise ConfigError([issue]) from None


def _unreadable_character(file: Path, text: str, error: yaml.reader.ReaderError) -> ConfigIssue:
    line = text.count("\n", 0, error.position) + 1
    message = f"character {_character(error.character)} is not allowed in a YAML file"
    return ConfigIssue(file, line, "", message)


class _Refused(Exception):
    """Something plain YAML allows that a site file does not, at `path` in the document."""

    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep: not a site file"
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
"""libyaml's own nesting limit, which its scanner reaches looking ahead in flow collections
(`[[[[...`) before the composer sees the node beyond `MAX_DEPTH`."""


class _PythonEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own scanner and parser, where its C parser (libyaml) is not installed."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


if TYPE_CHECKING:
    _Events = _PythonEvents
else:
    _Events = yaml.cyaml.CParser if yaml.__with_libyaml__ else _PythonEvents


class _SiteLoader(_Events, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """PyYAML's safe loader without its composer: values are built here, from the parser's
    events, one at a time.

    PyYAML composes the whole file into nodes (each with two marks) before it builds a value;
    for a site of 1,550 devices those nodes were a 16 MB peak, which a gateway's process kept
    as fragmented heap for ever after. Built from the events, the limits (no anchors or
    aliases, `MAX_DEPTH`, plain tags) are enforced as the file is read, so an alias bomb is
    refused at its first anchor. The text is scanned and parsed by libyaml (PyYAML's C parser)
    where it is installed: PyYAML's own scanner took five seconds and a 31 MB peak for that
    site. Its characters are checked by PyYAML's reader first, which names the character and
    where it is.
    """

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != f"{_TAG}timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, text: str) -> None:
        yaml.reader.Reader(text)  # raises ReaderError at a character YAML does not allow
        _Events.__init__(self, text)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


class _RefusedAt(Exception):
    """A refusal found while composing, where only the position in the text is known."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1
        self.message = message


def _read_document(loader: _SiteLoader, doc: YamlDocument) -> None:
    """The stream's one document into `doc.data` (an empty file leaves it empty)."""
    loader.get_event()  # type: ignore[no-untyped-call]  # the stream's start
    if loader.check_event(yaml.StreamEndEvent):
        return
    start = loader.get_event()  # type: ignore[no-untyped-call]
    doc.data = _build(loader, (), doc, 0)
    loader.get_event()  # type: ignore[no-untyped-call]  # the document's end
    if not loader.check_event(yaml.StreamEndEvent):
        another = loader.get_event()  # type: ignore[no-untyped-call]
        raise yaml.composer.ComposerError(
            "expected a single document in the stream",
            start.start_mark,
            "but found another document",
            another.start_mark,
        )


def _build(loader: _SiteLoader, path: Path_, doc: YamlDocument, depth: int) -> Any:
    """The value whose events come next, at `path`, `depth` levels deep."""
    event = _next_node(loader, depth)
    doc.lines.setdefault(path, event.start_mark.line + 1)
    if isinstance(event, yaml.ScalarEvent):
        tag = _tag(loader, event, yaml.ScalarNode)
        if tag not in _PLAIN_TAGS:
            raise _Refused(path, f"the YAML tag {_shown_tag(tag)} is not used in a site file")
        return _scalar(loader, event, tag, path)
    kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
    tag = _tag(loader, event, kind)
    if tag not in _COLLECTION_TAGS:
        raise _Refused(path, f"the YAML tag {_shown_tag(tag)} is not used in a site file")
    if kind is yaml.MappingNode:
        return _build_mapping(loader, path, doc, depth)
    items: list[Any] = []
    while not loader.check_event(yaml.SequenceEndEvent):
        items.append(_build(loader, (*path, len(items)), doc, depth + 1))
    loader.get_event()  # type: ignore[no-untyped-call]
    return items


def _build_mapping(loader: _SiteLoader, path: Path_, doc: YamlDocument, depth: int) -> Any:
    result: dict[Any, Any] = {}
    while not loader.check_event(yaml.MappingEndEvent):
        event = _next_node(loader, depth + 1)
        line = event.start_mark.line + 1
        if not isinstance(event, yaml.ScalarEvent):
            refusal = "a key must be a single value, not a list or mapping"
            raise ConfigError([ConfigIssue(doc.file, line, format_field(path), refusal)])
        tag = _tag(loader, event, yaml.ScalarNode)
        if tag not in _PLAIN_TAGS:  # at the key's line, in the mapping that holds it
            refusal = f"the YAML tag {_shown_tag(tag)} is not used in a site file"
            raise ConfigError([ConfigIssue(doc.file, line, format_field(path), refusal)])
        key = _scalar(loader, event, tag, path)
        if key in result:
            raise ConfigError([ConfigIssue(doc.file, line, "", f"duplicate key {key!r}")])
        doc.lines[(*path, key)] = line  # the key's line, not the value's
        result[key] = _build(loader, (*path, key), doc, depth + 1)
    loader.get_event()  # type: ignore[no-untyped-call]
    return result


def _next_node(loader: _SiteLoader, depth: int) -> Any:
    """The first event of the next value, refused if it is an alias, has an anchor, or is
    deeper than `MAX_DEPTH`."""
    event = loader.get_event()  # type: ignore[no-untyped-call]
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        name = event.anchor or ""
        raise _RefusedAt(
            event.start_mark,
            f"YAML anchors and aliases (&{name}, *{name}) are not allowed in a site file: "
            "write the value out in each place it is used",
        )
    if depth >= MAX_DEPTH:
        raise _RefusedAt(event.start_mark, _TOO_DEEP)
    return event


def _tag(loader: _SiteLoader, event: Any, kind: type[yaml.Node]) -> str:
    """The event's tag: written in the file, or what a plain value resolves to."""
    if event.tag is not None and event.tag != "!":
        return str(event.tag)
    value = event.value if kind is yaml.ScalarNode else None
    return str(loader.resolve(kind, value, event.implicit))  # type: ignore[no-untyped-call]


def _scalar(loader: _SiteLoader, event: Any, tag: str, path: Path_) -> Any:
    """One plain value, refused if it cannot be read or is one a site file never holds."""
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        value = loader.yaml_constructors[tag](loader, node)
    except (ValueError, TypeError, OverflowError) as error:
        raise _Refused(path, f"cannot read {_shown(event.value)} as {_kind(tag)}") from error
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused(path, f"{_shown(event.value)} is not a finite number")
    if isinstance(value, str):
        control = _CONTROL.search(value)
        if control is not None:
            raise _Refused(
                path, f"text cannot contain the control character {_character(control.group())}"
            )
    return value


def _kind(tag: str) -> str:
    return {f"{_TAG}int": "a whole number", f"{_TAG}float": "a number"}.get(tag, "a value")


def _shown(text: str) -> str:
    """A value from the file as an error quotes it: in quotes, escaped, and not too long."""
    if len(text) > _SHOWN_CHARS:
        return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"
    return repr(text)


def _shown_tag(tag: str) -> str:
    return f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else repr(tag)


def _character(char: str | int) -> str:
    code = char if isinstance(char, int) else ord(char)
    return f"U+{code:04X}"

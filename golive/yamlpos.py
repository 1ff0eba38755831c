"""YAML loading that remembers where every key and item came from.

Only the safe YAML subset is accepted (the tags `yaml.safe_load` knows); anything else is a
located problem, as are syntax errors, non-UTF-8 bytes, alias bombs and absurd nesting. The
result is built from `PosDict`/`PosList`, plain dict/list subclasses that carry the file,
line and column of each entry so that errors found later (validation, merging) can still be
pointed at a line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from golive.errors import Problem

MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_BYTES = 4 * 1024 * 1024

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class Pos:
    """A place in a file (1-based line and column)."""

    file: str
    line: int
    column: int


class PosDict(dict[Any, Any]):
    """A dict that remembers where each key was written."""

    pos: dict[Any, Pos]
    origin: Pos | None

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pos = {}
        self.origin = None


class PosList(list[Any]):
    """A list that remembers where each item was written."""

    pos: list[Pos | None]
    origin: Pos | None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pos = [None] * len(self)
        self.origin = None


Scalar = Callable[[str, Pos], Any]


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader, on_string: Scalar | None) -> None:
        self.file = file
        self.loader = loader
        self.on_string = on_string
        self.count = 0
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def pos(self, node: yaml.Node) -> Pos:
        m = node.start_mark
        return Pos(self.file, m.line + 1, m.column + 1)

    def fail(self, node: yaml.Node | None, path: str, message: str) -> None:
        p = self.pos(node) if node is not None else Pos(self.file, 1, 1)
        self.problems.append(Problem(p.file, p.line, p.column, path, message))

    def build(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
        if depth > MAX_DEPTH:
            raise _TooDeep(node)
        if id(node) in self._active:
            raise _Recursive(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path, depth)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> Any:
        if node.tag != _MAP:
            self.fail(node, path, f"unsupported YAML tag {node.tag!r} (only plain YAML is allowed)")
            return None
        self._active.add(id(node))
        try:
            self.loader.flatten_mapping(node)
            out = PosDict()
            out.origin = self.pos(node)
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.fail(key_node, path, "mapping keys must be plain scalars")
                    continue
                key = self._scalar(key_node, path, interpolate=False)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    self.fail(key_node, path, f"mapping key {key!r} must be a string")
                    continue
                key = str(key)
                child = f"{path}.{key}" if path else key
                if key in out:
                    self.fail(key_node, child, "duplicate key (the later value would win)")
                out[key] = self.build(value_node, child, depth + 1)
                out.pos[key] = self.pos(key_node)
            return out
        finally:
            self._active.discard(id(node))

    def _sequence(self, node: yaml.SequenceNode, path: str, depth: int) -> Any:
        if node.tag != _SEQ:
            self.fail(node, path, f"unsupported YAML tag {node.tag!r} (only plain YAML is allowed)")
            return None
        self._active.add(id(node))
        try:
            out = PosList()
            out.origin = self.pos(node)
            for i, item in enumerate(node.value):
                out.append(self.build(item, f"{path}[{i}]", depth + 1))
                out.pos.append(self.pos(item))
            return out
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.Node, path: str, interpolate: bool = True) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.fail(node, path, f"invalid value: {problem}")
            return None
        if interpolate and isinstance(value, str) and self.on_string is not None:
            try:
                return self.on_string(value, self.pos(node))
            except ValueError as exc:
                self.fail(node, path, str(exc))
                return value
        return value


class _Abort(Exception):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__()
        self.node = node


class _TooLarge(_Abort):
    message = f"document expands to more than {MAX_NODES} values (alias bomb?)"


class _TooDeep(_Abort):
    message = f"document is nested more than {MAX_DEPTH} levels deep"


class _Recursive(_Abort):
    message = "recursive alias (an anchor that contains itself)"


def read_text(path: str) -> str:
    """Read a config file as UTF-8, turning every failure into a located ConfigError."""
    from golive.errors import ConfigError

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([Problem(path, None, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(path, None, None, "", "is a directory, not a file")]) from None
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise ConfigError([Problem(path, None, None, "", msg)]) from None
    if len(raw) > MAX_BYTES:
        msg = f"file is larger than {MAX_BYTES // 1024 // 1024} MiB"
        raise ConfigError([Problem(path, None, None, "", msg)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = f"not UTF-8 text (byte 0x{raw[exc.start]:02x})"
        raise ConfigError([Problem(path, line, col, "", msg)]) from None


def load(path: str, text: str, on_string: Scalar | None = None) -> tuple[Any, list[Problem]]:
    """Parse one YAML document into PosDict/PosList data; returns (data, problems)."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader rejects control characters up front
        at = exc.position
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        msg = f"control character #x{code:04x} is not allowed in YAML"
        return None, [Problem(path, line, col, "", msg)]
    too_deep = _depth_problem(path, text)
    if too_deep is not None:
        loader.dispose()
        return None, [too_deep]
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            msg = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
            return None, [
                Problem(
                    path,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    "",
                    f"YAML syntax error: {msg}",
                )
            ]
        except yaml.YAMLError as exc:
            return None, [Problem(path, None, None, "", f"YAML error: {exc}")]
        except RecursionError:
            return None, [Problem(path, None, None, "", "document is nested too deeply")]
        if node is None:
            return None, []
        builder = _Builder(path, loader, on_string)
        try:
            data = builder.build(node, "", 0)
        except _Abort as exc:
            p = builder.pos(exc.node)
            return None, [Problem(path, p.line, p.column, "", type(exc).message)]  # type: ignore[attr-defined]
        except RecursionError:
            return None, [Problem(path, None, None, "", "document is nested too deeply")]
        return data, builder.problems
    finally:
        loader.dispose()


def _depth_problem(path: str, text: str) -> Problem | None:
    """Refuse absurd nesting from the event stream (the parser is iterative, PyYAML's
    composer is recursive), before composing: cheap, and no deep recursion at all."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    m = event.start_mark
                    msg = f"document is nested more than {MAX_DEPTH} levels deep"
                    if m is None:
                        return Problem(path, None, None, "", msg)
                    return Problem(path, m.line + 1, m.column + 1, "", msg)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None  # reported with its location by the real parse
    return None


def position(data: Any, loc: tuple[Any, ...]) -> Pos | None:
    """The position of the deepest entry along `loc` that has one."""
    best: Pos | None = getattr(data, "origin", None)
    cur = data
    for part in loc:
        if isinstance(cur, PosDict) and part in cur:
            best = cur.pos.get(part, best)
            cur = cur[part]
        elif isinstance(cur, PosList) and isinstance(part, int) and 0 <= part < len(cur):
            best = cur.pos[part] or best
            cur = cur[part]
        else:
            continue
    return best

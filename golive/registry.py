"""The one registry of checks: built-ins, entry-point plugins and local plugin modules.

Built-in modules are named in `BUILTIN_MODULES` and load through exactly the same function
as third-party modules found in the ``golive.checks`` entry-point group or under
``plugin_paths:``. A module contributes every function decorated with ``@check``; nothing is
registered as an import side effect. Modules are imported on demand and import their heavy
libraries inside the checks, so building the registry stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from golive.api import CheckSpec, spec_of
from golive.errors import RegistryError

ENTRY_POINT_GROUP = "golive.checks"

#: Built-in check modules: one per checklist section, plus the generic kinds.
BUILTIN_MODULES: tuple[str, ...] = (
    "golive.checks.generic",
    "golive.checks.testing",
    "golive.checks.security",
    "golive.checks.infrastructure",
    "golive.checks.database",
    "golive.checks.integrity",
    "golive.checks.audit",
    "golive.checks.performance",
    "golive.checks.monitoring",
    "golive.checks.operations",
    "golive.checks.capacity",
    "golive.checks.final",
)


@dataclass
class Registry:
    """Every known check, by id, and every generic kind, by name."""

    checks: dict[str, CheckSpec] = field(default_factory=dict)
    generics: dict[str, CheckSpec] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)

    def add(self, spec: CheckSpec) -> None:
        """Add one spec; a duplicate id is an error naming both sources."""
        table = self.generics if spec.generic else self.checks
        key = spec.name if spec.generic else spec.id
        other = table.get(key)
        if other is not None and other.func is not spec.func:
            raise RegistryError(
                f"duplicate check id {spec.id!r}: defined by {other.source} and by {spec.source}"
            )
        table[key] = spec

    def add_module(self, module: ModuleType) -> int:
        """Collect every decorated check of a module; returns how many were found."""
        found = 0
        for _, obj in inspect.getmembers(module):
            spec = spec_of(obj)
            if spec is not None and getattr(obj, "__module__", None) == module.__name__:
                self.add(spec)
                found += 1
        self.modules.append(module.__name__)
        return found

    def get(self, check_id: str) -> CheckSpec | None:
        """A registered check by id."""
        return self.checks.get(check_id)

    def sorted(self) -> list[CheckSpec]:
        """Checks in checklist section order, then by id."""
        order = {name: i for i, name in enumerate(SECTION_ORDER)}
        return sorted(self.checks.values(), key=lambda s: (order.get(s.section, 99), s.id))


#: The checklist's sections, in order.
SECTION_ORDER: tuple[str, ...] = (
    "testing",
    "security",
    "infrastructure",
    "database",
    "integrity",
    "audit",
    "performance",
    "monitoring",
    "operations",
    "capacity",
    "final",
)


def build_registry(
    plugin_paths: Iterable[str] = (),
    *,
    builtins: Iterable[str] = BUILTIN_MODULES,
    entry_points: bool = True,
) -> Registry:
    """Load built-ins, entry-point plugins and local plugin modules into one registry."""
    registry = Registry()
    for name in builtins:
        registry.add_module(_import(name, name))
    if entry_points:
        for ep_name, value in _entry_points():
            if value in registry.modules:
                continue
            registry.add_module(_import(value, f"entry point {ep_name!r}"))
    for path in plugin_paths:
        for module in _load_path(path):
            registry.add_module(module)
    return registry


def _entry_points() -> list[tuple[str, str]]:
    from importlib.metadata import entry_points

    return [(ep.name, ep.value.split(":", 1)[0]) for ep in entry_points(group=ENTRY_POINT_GROUP)]


def _import(name: str, label: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise RegistryError(f"cannot load check module {name} ({label}): {exc}") from None


def _load_path(path: str) -> list[ModuleType]:
    p = Path(path)
    if p.is_file() and p.suffix == ".py":
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.glob("*.py") if not f.name.startswith("_"))
    else:
        raise RegistryError(f"plugin path {path} does not exist (plugin_paths in golive.yaml)")
    out = []
    for f in files:
        name = "golive_plugin_" + "_".join(f.resolve().with_suffix("").parts[-2:]).replace("-", "_")
        if name in sys.modules:
            out.append(sys.modules[name])
            continue
        spec = importlib.util.spec_from_file_location(name, f)
        if spec is None or spec.loader is None:
            raise RegistryError(f"cannot load plugin {f}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise RegistryError(f"cannot load plugin {f}: {type(exc).__name__}: {exc}") from None
        out.append(module)
    return out


# ---------------------------------------------------------------------------------------------
# parameters


def parameters(spec: CheckSpec) -> list[tuple[str, Any, Any]]:
    """The check's parameters after ``ctx``: (name, type, default)."""
    sig = inspect.signature(spec.func)
    hints = typing.get_type_hints(spec.func)
    out = []
    for name, p in list(sig.parameters.items())[1:]:
        default = p.default if p.default is not inspect.Parameter.empty else ...
        out.append((name, hints.get(name, Any), default))
    return out


_MODELS: dict[str, Any] = {}


def params_model(spec: CheckSpec) -> Any:
    """A pydantic model of the check's parameters (unknown ones forbidden)."""
    model = _MODELS.get(spec.source)
    if model is None:
        from pydantic import ConfigDict, create_model

        fields: dict[str, Any] = {name: (tp, default) for name, tp, default in parameters(spec)}
        model = create_model(
            "params_" + spec.id.replace(".", "_"),
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **fields,
        )
        _MODELS[spec.source] = model
    return model


def validate_params(
    spec: CheckSpec, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[tuple[Any, ...], str]]]:
    """Validate params against the check's signature: (values, [(loc, message), ...])."""
    from pydantic import ValidationError

    from golive.config import did_you_mean

    model = params_model(spec)
    try:
        obj = model.model_validate(dict(params))
    except ValidationError as exc:
        names = [n for n, _, _ in parameters(spec)]
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                msg = f"unknown parameter {str(loc[-1])!r} for {spec.id}"
                msg += did_you_mean(str(loc[-1]), names)
                if names:
                    msg += f"; parameters: {', '.join(names)}"
            elif err["type"] == "missing":
                msg = f"missing required parameter {str(loc[-1])!r} for {spec.id}"
            else:
                msg = err["msg"]
            problems.append((loc, msg))
        return {}, problems
    return {name: getattr(obj, name) for name, _, _ in parameters(spec)}, []

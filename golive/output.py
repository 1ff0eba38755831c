"""Where rendered reports go: `FORMAT:PATH` specs, atomic writes, redaction on the way out."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from golive.errors import UsageError
from golive.models import Run
from golive.redact import Redactor


@dataclass(frozen=True)
class OutputSpec:
    """One requested report: a format and a file path."""

    format: str
    path: str


def parse_output(spec: str) -> OutputSpec:
    """Parse `FORMAT:PATH` (e.g. `html:reports/golive.html`)."""
    fmt, sep, path = spec.partition(":")
    if not sep or not fmt or not path:
        raise UsageError(
            f"--output {spec!r} must look like FORMAT:PATH, e.g. html:reports/golive.html"
        )
    return OutputSpec(fmt.strip().lower(), path.strip())


def render(run: Run, fmt: str, redactor: Redactor, previous: Run | None = None) -> str | bytes:
    """Render a run in a format, redacting both the model and the text.

    `previous` (an earlier run) is given to formats that show what changed (html,
    markdown); asking another format for it is a usage error.
    """
    import inspect

    from golive.reports import get

    renderer = get(fmt)
    kwargs = {}
    if previous is not None:
        if "previous" not in inspect.signature(renderer).parameters:
            raise UsageError(
                f"--previous is not used by the {fmt} format (html and markdown show changes)"
            )
        kwargs["previous"] = redactor.redact_obj(previous)
    shown = redactor.redact_obj(run)
    if not shown.digest:
        # the digest of the evidence as reports show it (secrets masked), which is what a
        # saved JSON run reads back as and what `golive approve` binds a sign-off to
        from dataclasses import replace

        from golive.approvals import run_digest

        shown = replace(shown, digest=run_digest(shown))
    out = renderer(shown, **kwargs)
    if isinstance(out, bytes):
        return redactor.redact(out.decode("utf-8")).encode("utf-8")
    return redactor.redact(out)


def accepts_previous(fmt: str) -> bool:
    """True when the format shows the change since a previous run."""
    import inspect

    from golive.reports import get

    return "previous" in inspect.signature(get(fmt)).parameters


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a file via a temporary file and rename, creating parent directories."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_outputs(
    run: Run, specs: list[OutputSpec], redactor: Redactor, previous: Run | None = None
) -> list[tuple[OutputSpec, str | None]]:
    """Write every requested report; returns (spec, error or None) for each, never raises."""
    results: list[tuple[OutputSpec, str | None]] = []
    for spec in specs:
        try:
            prev = previous if previous is not None and accepts_previous(spec.format) else None
            write_atomic(spec.path, render(run, spec.format, redactor, prev))
            results.append((spec, None))
        except Exception as exc:  # one broken report must not lose the others
            results.append((spec, redactor.redact(f"{type(exc).__name__}: {exc}")))
    return results

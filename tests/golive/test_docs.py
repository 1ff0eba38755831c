"""golive/docs.py: every check is documented, and docs/checks.md is current."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from golive.cli import app
from golive.docs import markdown
from golive.registry import build_registry

ROOT = Path(__file__).resolve().parents[2]


def test_checks_md_is_generated_from_the_registry() -> None:
    expected = markdown(build_registry(entry_points=False))
    current = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert current == expected, "docs/checks.md is stale: run `make docs`"


def test_every_check_is_explained() -> None:
    registry = build_registry(entry_points=False)
    runner = CliRunner()
    for spec in [*registry.checks.values(), *registry.generics.values()]:
        name = spec.name if spec.generic else spec.id
        result = runner.invoke(app, ["explain", name])
        assert result.exit_code == 0, name
        assert spec.title in result.stdout
        assert "What it proves:" in result.stdout
        assert spec.remediation and spec.remediation in result.stdout
        assert "(no description)" not in result.stdout, name


def test_readme_links_the_check_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/checks.md" in readme


def test_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    """The golive.yaml example in the README validates against the real registry."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "version: 1" in b]
    assert blocks, "README has no golive.yaml example"
    path = tmp_path / "golive.yaml"
    path.write_text(blocks[0], encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["validate", "-c", str(path)],
        env={"GOLIVE_API_TOKEN": "t0ken-x", "DB_PASSWORD": "pw-x"},
    )
    assert result.exit_code == 0, result.output


def test_readme_counts_come_from_the_registry() -> None:
    """The README's 'N built-in checks in M sections' and its list of sections match the
    registry; no other sentence in the README or docs/ claims a number of checks."""
    import re

    from golive.docs import count_phrase
    from golive.registry import SECTION_ORDER

    registry = build_registry(entry_points=False)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    phrase = count_phrase(registry)
    assert phrase in readme, f"README.md should say {phrase!r}"
    listed = readme.split(phrase, 1)[1].split("(", 1)[1].split(")", 1)[0]
    assert [s.strip() for s in listed.split(",")] == list(SECTION_ORDER)
    assert len({spec.section for spec in registry.checks.values()}) == len(SECTION_ORDER)
    claims = re.compile(r"\b(\d+\+?|eleven|twelve|ten|nine)\s+(built-in\s+)?(checks|sections)\b")
    measured = ("checks ran", "checks passed", "checks unrelated")  # figures of one reported run
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = " ".join(path.read_text(encoding="utf-8").split())
        generated = [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
        for m in claims.finditer(text):
            context = text[m.start() : m.end() + 20]
            if any(a <= m.start() < b for a, b in generated) or any(w in context for w in measured):
                continue
            raise AssertionError(f"{path.name}: {context!r} is a count not taken from the registry")

"""golive/config.py: loading, located errors, interpolation, merging, parameter validation."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from golive.config import load_config, parse_duration
from golive.errors import ConfigError
from golive.plan import resolve
from golive.registry import build_registry


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(p)


def problems(paths: list[str], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        cfg = load_config(paths, env=env or {})
        resolve(cfg, build_registry(cfg.plugin_paths))
    return [str(p) for p in exc.value.problems]


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "version: 1\n")
    cfg = load_config([path], env={})
    assert cfg.defaults.timeout == 30
    assert cfg.defaults.fail_on.value == "high"
    assert cfg.targets.api is None
    assert cfg.digest.startswith("sha256:")
    assert cfg.files == [path]


def test_unknown_key_has_location_and_did_you_mean(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        defaults:
          timout: 5
        """,
    )
    assert problems([path]) == [
        f"{path}:3:3: defaults.timout: unknown key 'timout' (did you mean 'timeout'?)"
    ]


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        defaults:
          concurrency: lots
          fail_on: catastrophic
        targets:
          api:
            url: ftp://example
        """,
    )
    found = problems([path])
    assert len(found) == 3
    assert found[0].startswith(f"{path}:3:3: defaults.concurrency: Input should be a valid integer")
    assert found[1].startswith(f"{path}:4:3: defaults.fail_on: Input should be 'critical', 'high'")
    assert found[2] == f"{path}:7:5: targets.api.url: 'ftp://example' is not an http(s) URL"


def test_missing_version(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "project: x\n")
    assert problems([path]) == [f"{path}:1:1: version: missing required key 'version'"]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "version: 1\nsections: [unclosed\n")
    (msg,) = problems([path])
    assert msg.startswith(f"{path}:3:1: YAML syntax error:")


def test_non_mapping_document(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "- just\n- a list\n")
    assert problems([path]) == [f"{path}:1:1: expected a mapping at the top, got PosList"]


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "")
    assert problems([path]) == [f"{path}: file is empty (run `golive init`)"]


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert problems([missing]) == [f"{missing}: file not found"]
    assert problems([str(tmp_path)]) == [f"{tmp_path}: is a directory, not a file"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"version: 1\n\xff\xfe\x00junk")
    assert problems([str(binary)]) == [f"{binary}:2:1: not UTF-8 text (byte 0xff)"]


def test_python_tags_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path, "golive.yaml", "version: 1\nproject: !!python/object/apply:os.system ['true']\n"
    )
    (msg,) = problems([path])
    assert msg.startswith(f"{path}:2:10: project: ")
    assert "python/object/apply" in msg


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = write(tmp_path, "golive.yaml", "\n".join(lines) + "\n")
    (msg,) = problems([path])
    assert "alias bomb" in msg


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "version: 1\nproject: a\nproject: b\n")
    assert problems([path]) == [f"{path}:3:1: project: duplicate key (the later value would win)"]


def test_interpolation_defaults_and_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        project: ${NAME:-fallback}
        environment: ${ENV_NAME}
        targets:
          api:
            url: http://127.0.0.1:${PORT:-8080}
            token: $$literal
        """,
    )
    cfg = load_config([path], env={"ENV_NAME": "staging"})
    assert cfg.project == "fallback"
    assert cfg.environment == "staging"
    assert cfg.targets.api is not None
    assert cfg.targets.api.url == "http://127.0.0.1:8080"
    assert cfg.targets.api.token == "$literal"
    assert problems([path]) == [
        f"{path}:3:14: environment: environment variable ENV_NAME is not set"
    ]


def test_required_variable_message(tmp_path: Path) -> None:
    path = write(
        tmp_path, "golive.yaml", "version: 1\nproject: ${PROJECT:?set PROJECT to the stack name}\n"
    )
    assert problems([path]) == [f"{path}:2:10: project: PROJECT: set PROJECT to the stack name"]


def test_env_file_and_process_env_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, "golive.yaml", "version: 1\nproject: ${P}\nenvironment: ${E}\n")
    env_file = write(tmp_path, "vars.env", "P=from-file\nE=from-file\n")
    cfg = load_config([path], env={"E": "from-process"}, env_files=[env_file])
    assert (cfg.project, cfg.environment) == ("from-file", "from-process")


def test_secret_values_are_collected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        targets:
          database: {dsn: "postgresql://app:${DB_PASSWORD}@127.0.0.1/db"}
          api: {url: "http://127.0.0.1:1", token: tok-123456}
        """,
    )
    cfg = load_config([path], env={"DB_PASSWORD": "pa55word!"})
    assert {"pa55word!", "tok-123456"} <= cfg.secrets


def test_overlays_merge_in_order_and_checks_merge_by_id(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yaml",
        """
        version: 1
        project: base
        defaults: {timeout: 10, concurrency: 2}
        sections:
          operations:
            checks:
              - {id: operations.a, uses: port, title: A open, params: {port: 1}}
              - {id: operations.b, uses: port, title: B open, params: {port: 2}}
        """,
    )
    overlay = write(
        tmp_path,
        "prod.yaml",
        """
        environment: prod
        defaults: {timeout: 20}
        sections:
          operations:
            checks:
              - {id: operations.b, params: {port: 3}, severity: high}
              - {id: operations.c, uses: port, title: C open, params: {port: 4}}
        """,
    )
    cfg = load_config([base, overlay], env={})
    assert (cfg.project, cfg.environment) == ("base", "prod")
    assert (cfg.defaults.timeout, cfg.defaults.concurrency) == (20, 2)
    checks = cfg.sections["operations"].checks
    assert [c.id for c in checks] == ["operations.a", "operations.b", "operations.c"]
    assert checks[1].params == {"port": 3}
    assert checks[1].severity is not None and checks[1].severity.value == "high"
    assert checks[1].title == "B open"


def test_error_in_overlay_points_at_overlay(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "version: 1\n")
    overlay = write(tmp_path, "over.yaml", "defaults:\n  deadline: soon\n")
    (msg,) = problems([base, overlay])
    assert (
        msg
        == f"{overlay}:2:3: defaults.deadline: 'soon' is not a duration (use e.g. 5, '5s', '10m', '1h')"
    )


def test_params_are_validated_against_the_check_signature(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        sections:
          operations:
            checks:
              - id: operations.web
                uses: port
                title: Web port open
                params:
                  port: eighty
                  hots: example
        """,
    )
    found = problems([path])
    assert (
        f"{path}:9:11: sections.operations.checks[0].params.port: Input should be a valid integer"
        in found[0]
    )
    assert found[1] == (
        f"{path}:10:11: sections.operations.checks[0].params.hots: unknown parameter 'hots' for "
        "generic.port (did you mean 'host'?); parameters: port, host, timeout, expect"
    )


def test_unknown_check_id_and_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        sections:
          operations:
            checks:
              - {id: operations.x, uses: prot, title: X}
              - {id: operations.zzqx}
        """,
    )
    found = problems([path])
    assert found[0].startswith(
        f"{path}:5:28: sections.operations.checks[0].uses: unknown generic check kind 'prot' (did you mean 'port'?); kinds: "
    )
    assert (
        found[1]
        == f"{path}:6:10: sections.operations.checks[1].id: unknown check id 'operations.zzqx'"
    )


def test_check_in_wrong_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        sections:
          security:
            checks:
              - {id: operations.x, uses: port, title: X, params: {port: 1}}
        """,
    )
    assert problems([path]) == [
        f"{path}:5:10: sections.security.checks[0].id: check 'operations.x' is listed under "
        "section 'security'; its id must start with 'security.'"
    ]


def test_waiver_needs_all_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        """
        version: 1
        sections:
          operations:
            checks:
              - id: operations.x
                uses: port
                title: X
                params: {port: 1}
                waiver: {reason: accepted, expires: not-a-date}
        """,
    )
    found = problems([path])
    assert any("waiver.approved_by: missing required key 'approved_by'" in f for f in found)
    assert any("waiver.expires: Input should be a valid date" in f for f in found)


def test_relative_paths_resolve_against_the_file_that_sets_them(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    path = write(sub, "golive.yaml", "version: 1\ntargets:\n  project: {root: ../tree}\n")
    cfg = load_config([path], env={})
    assert cfg.targets.project is not None
    assert cfg.targets.project.root == os.path.normpath(str(tmp_path / "tree"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(5, 5), ("500ms", 0.5), ("5s", 5), ("10m", 600), ("1h", 3600), ("2d", 172800)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_default_checklist_is_valid_and_complete() -> None:
    """The shipped checklist validates and lists every registered check (it never lies)."""
    root = Path(__file__).resolve().parents[2]
    cfg = load_config([str(root / "golive.yaml")], env={})
    registry = build_registry()
    planned = resolve(cfg, registry)
    listed = {p.id for p in planned}
    missing = sorted(set(registry.checks) - listed)
    assert missing == [], f"registered checks missing from golive.yaml: {missing}"


def test_approvals_block_loads_signers_and_resolves_the_allowed_signers_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "allowed_signers").write_text("", encoding="utf-8")
    path = write(
        tmp_path,
        "golive.yaml",
        "version: 1\n"
        "approvals:\n"
        "  allowed_signers: ops/allowed_signers\n"
        "  gates:\n"
        "    security: {signers: [alice@example.com, bob@example.com], min: 2}\n"
        "    rollback: {}\n",
    )
    cfg = load_config([path], env={})
    assert cfg.approvals.allowed_signers == str(tmp_path / "ops" / "allowed_signers")
    assert cfg.approvals.gates["security"].signers == ["alice@example.com", "bob@example.com"]
    assert cfg.approvals.gates["security"].min == 2
    assert cfg.approvals.gates["rollback"].min == 1


def test_a_bad_approvals_block_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "golive.yaml",
        "version: 1\n"
        "approvals:\n"
        "  allowed_signers: keys/allowed_signers\n"
        "  gates:\n"
        "    securty: {signers: [alice]}\n"
        "    backup: {min: 0}\n"
        "    rollback: {signers: [alice], min: 2}\n",
    )
    assert problems([path]) == [
        f"{path}:3:3: approvals.allowed_signers: allowed-signers file "
        f"{tmp_path / 'keys' / 'allowed_signers'} does not exist",
        f"{path}:6:14: approvals.gates.backup.min: Input should be greater than or equal to 1",
    ]
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "allowed_signers").write_text("", encoding="utf-8")
    path = write(
        tmp_path,
        "golive.yaml",
        "version: 1\n"
        "approvals:\n"
        "  allowed_signers: keys/allowed_signers\n"
        "  gates:\n"
        "    securty: {signers: [alice]}\n"
        "    rollback: {signers: [alice], min: 2}\n",
    )
    assert problems([path]) == [
        f"{path}:5:5: approvals.gates.securty: unknown gate 'securty'; the gates are "
        "technical, security, infrastructure, monitoring, backup, operations, rollback "
        "(did you mean 'security'?)",
        f"{path}:6:34: approvals.gates.rollback.min: min 2 can never be met: "
        "only 1 signer is listed",
    ]
    path = write(
        tmp_path, "golive.yaml", "version: 1\napprovals:\n  gates:\n    security: {min: 2}\n"
    )
    assert problems([path]) == [
        f"{path}:3:3: approvals.gates: per-gate signers need approvals.allowed_signers "
        "(an OpenSSH allowed-signers file): without keys, anyone can type any name"
    ]

# golive developer commands. On a fresh machine start with: sh scripts/bootstrap test
VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=
# two pytest-xdist workers: the demo stack's tests on one, the real Ordinaut's, the SSH
# hosts' and the unit tests on the other (tests/conftest.py: xdist_group)
PYTEST_WORKERS ?= -n 2 --dist loadgroup

.PHONY: bootstrap lint typecheck test test-unit demo upstream upstream-doc docs clean

bootstrap:
	sh scripts/bootstrap

lint: bootstrap
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: bootstrap
	$(PY) -m mypy --strict golive
	$(PY) -m mypy checks reports

# The full suite, with its real services (PostgreSQL, Redis, Prometheus, Alertmanager,
# podman) started by the test fixtures. pytest's exit 5 (no tests collected) is a failure.
test: lint typecheck
	@$(PY) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: bootstrap
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

# Start the demo stack, run the whole checklist against it (writes allowed), stop it.
demo: bootstrap
	sh scripts/demo

# Start the real Ordinaut 2.2.2 (shared/upstream/ordinaut-2.2.2), run the whole checklist
# against it (writes allowed), print the decision, stop it. Reports: reports/upstream.*
upstream: bootstrap
	sh scripts/upstream

# Refresh the verdict table of docs/upstream.md from reports/upstream.json
upstream-doc: bootstrap
	$(PY) -m demo.upstream.doc reports/upstream.json docs/upstream.md "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

docs: bootstrap
	$(PY) -m golive.docs > docs/checks.md

clean:
	-$(PY) -m demo.stack down
	-$(PY) -m demo.upstream down
	rm -rf reports/golive.* reports/upstream.* .pytest_cache .mypy_cache .ruff_cache

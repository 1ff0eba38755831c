"""Reference orchestrator stack that golive validates in its tests and demos.

The package mirrors the production stack described in TARGET.md: a FastAPI API
(:mod:`demo.api`), a scheduler (:mod:`demo.scheduler`), worker processes
(:mod:`demo.worker`), SQL migrations (``demo/migrations``) and the deployment files
(``demo/ops``). :mod:`demo.stack` starts all of it on loopback with real servers, and
:mod:`demo.faults` puts a running stack into real failing states.
"""

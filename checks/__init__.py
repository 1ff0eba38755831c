"""Built-in check modules: one per checklist section, plus `generic` (checks declared in YAML).

Each module imports only `golive.api` at the top; heavy libraries are imported inside the
check functions so that listing checks stays cheap.
"""

"""Checks of the database section."""

from __future__ import annotations

"""Checks of the performance section."""

from __future__ import annotations

"""Checks of the capacity section."""

from __future__ import annotations

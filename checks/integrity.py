"""Checks of the integrity section."""

from __future__ import annotations

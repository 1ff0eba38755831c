"""Checks of the final section."""

from __future__ import annotations

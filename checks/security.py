"""Checks of the security section."""

from __future__ import annotations

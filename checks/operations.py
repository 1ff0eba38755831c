"""Checks of the operations section."""

from __future__ import annotations

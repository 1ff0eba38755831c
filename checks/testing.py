"""Checks of the testing section."""

from __future__ import annotations

"""Checks of the infrastructure section."""

from __future__ import annotations

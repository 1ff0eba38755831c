"""Checks of the audit section."""

from __future__ import annotations

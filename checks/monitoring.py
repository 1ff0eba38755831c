"""Checks of the monitoring section."""

from __future__ import annotations

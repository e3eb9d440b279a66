"""Number formats shared by the terminal tables, the markdown report and the charts."""

from __future__ import annotations

from typing import Optional


def format_seconds(seconds: Optional[float]) -> str:
    """Three significant figures for small values, whole seconds from 100 s on."""
    if seconds is None:
        return "n/a"
    if seconds >= 100:
        return f"{seconds:.0f}"
    if seconds >= 10:
        return f"{seconds:.1f}"
    return f"{seconds:.2f}"


def format_ms(ms: Optional[float]) -> str:
    """Milliseconds, with the precision rules of seconds."""
    return format_seconds(ms)


def format_change(change: Optional[float]) -> str:
    """ "+12.4%", "-3.0%"; a change that rounds to nothing is "0.0%", not "-0.0%"."""
    if change is None:
        return ""
    return "0.0%" if round(change * 100, 1) == 0 else f"{change * 100:+.1f}%"


def format_mib(mib: Optional[float]) -> str:
    return "n/a" if mib is None else f"{mib:,.0f}"

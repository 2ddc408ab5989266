"""What list pages need to write table rows in Python instead of through per-row template
tags: a route's URL for many ids, and a date as the `date:"j M Y"` filter writes it.

A page of 50 rows reversing a URL and formatting a date per row through the template engine
spent more time there than in its queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.urls import reverse

# The `date` filter's "M": English, three letters, whatever the process's C locale says
# (strftime's %b would follow it).
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# An id no route will meet in a real URL, replaced by the placeholder after one reverse().
_SENTINEL = 987654321


def url_by_id(name: str) -> Callable[[int], str]:
    """reverse(name, args=[pk]) for many ids: the route is reversed once. Raises
    NoReverseMatch, as reverse() does, when the route is not installed."""
    pattern = reverse(name, args=[_SENTINEL]).replace(str(_SENTINEL), "{}")
    return pattern.format


def month_text(month: dt.date) -> str:
    """ "Mar 2026", as `date:"M Y"` writes it."""
    return f"{MONTH_ABBR[month.month - 1]} {month.year}"


def day_text(day: dt.date) -> str:
    """ "5 Mar 2026", as `date:"j M Y"` writes it."""
    return f"{day.day} {month_text(day)}"

"""`{% plotly_chart fig "dom-id" %}`: a chart's container and its figure as inert JSON.

static/js/charts.js finds every `<script type="application/json" data-chart-target=...>`
and draws the figure into the element with that id; no inline script, so a CSP can keep
`script-src 'self'`. Any app's template may load this library.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def plotly_chart(figure: dict[str, Any], dom_id: str, label: str = "") -> SafeString:
    """The container `<div id=dom_id>` and the figure's JSON in `<script id=dom_id-data>`.

    json_script escapes <, > and & inside the payload, so text in a figure cannot close the
    script element. It cannot add attributes, and its output opens with "<script "; the
    payload holds no "<", so the target attribute goes into that first opening tag.
    """
    payload = json_script(figure, f"{dom_id}-data")
    target = format_html('<script data-chart-target="{}" ', dom_id)
    script = mark_safe(payload.replace("<script ", target, 1))
    return format_html(
        '<div id="{}" class="chart" role="img" aria-label="{}"></div>{}',
        dom_id,
        label,
        script,
    )

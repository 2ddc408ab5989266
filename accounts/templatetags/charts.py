"""`{% plotly_chart fig "dom-id" %}`: a chart's container and its figure as inert JSON.

static/js/charts.js finds every `<script type="application/json" data-chart-target=...>`
and draws the figure into the element with that id; no inline script, so a CSP can keep
`script-src 'self'`. Any app's template may load this library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_DJANGO_ENCODER = DjangoJSONEncoder()


def figure_json(figure: dict[str, Any]) -> str:
    """The figure as JSON, escaped as json_script escapes it.

    orjson writes a figure in a tenth of the time json.dumps takes. Dates, times,
    decimals and lazy text go through DjangoJSONEncoder, as json_script would write them. NaN
    and infinities become null (json.dumps writes NaN, which JSON.parse refuses). A value
    orjson cannot write (an integer beyond 64 bits) falls back to json.dumps.
    """
    try:
        text = orjson.dumps(
            figure,
            default=_DJANGO_ENCODER.default,
            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
        ).decode()
    except orjson.JSONEncodeError:
        text = json.dumps(figure, cls=DjangoJSONEncoder)
    # The escapes of Django's json_script, so text in a figure can neither close the script
    # element nor open another tag; str.replace rather than json_script's str.translate, which
    # took twice as long as the encoding itself.
    return text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")


@register.simple_tag
def plotly_chart(figure: dict[str, Any], dom_id: str, label: str = "") -> SafeString:
    """The container `<div id=dom_id>` and the figure's JSON in `<script id=dom_id-data>`.

    The payload is escaped as json_script escapes it (figure_json), so text in a figure
    cannot close the script element.
    """
    return format_html(
        '<div id="{}" class="chart" role="img" aria-label="{}"></div>'
        '<script data-chart-target="{}" id="{}-data" type="application/json">{}</script>',
        dom_id,
        label,
        dom_id,
        dom_id,
        mark_safe(figure_json(figure)),
    )

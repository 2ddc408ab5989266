"""The monthly report as an A4 PDF: the frozen numbers in an HTML template printed by
WeasyPrint, with the page's charts exported to SVG by kaleido through the system Chromium.

No browser is ever downloaded: kaleido finds Chromium through BROWSER_PATH. One kaleido
server runs per process, started on the first chart (about 4 s, Chromium starting) and
reused after (about 0.3 s a chart), so a Celery worker pays the start once per child. When
Chromium is missing or fails, the PDF is printed without charts and says so: the numbers
matter more than the pictures, and a report that fails to print helps nobody.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from reports.charts_monthly import report_figures
from reports.monthly import report_view

os.environ.setdefault("BROWSER_PATH", "/usr/bin/chromium")

logger = logging.getLogger(__name__)
# Kaleido and choreographer log every Chromium start and temp-dir cleanup at INFO, which the
# root logger (INFO) would print on every command run; their warnings still show.
for _name in ("kaleido", "choreographer"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Width x height in CSS pixels of each chart in the PDF; the A4 text column is ~700 px.
CHART_SIZES: dict[str, tuple[int, int]] = {
    "bridge": (700, 300),
    "retention_trend": (700, 280),
    "feedback_trend": (700, 280),
    "health_bands": (460, 260),
}
# A chart that takes longer than this means Chromium hangs: print without charts.
CHART_TIMEOUT_SECONDS = 60


class ChartsUnavailable(Exception):
    """Charts cannot be drawn in this process; the message says why, for the PDF's note."""


class _ChartServer:
    """The one kaleido server of this process, started lazily and guarded by a lock: kaleido's
    sync server hands results back through one shared queue, so two threads must not call it
    at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._broken: str | None = None
        # kaleido's call blocks with no timeout; a side thread lets us give up on a hung one.
        self._executor: ThreadPoolExecutor | None = None

    def _start(self) -> None:
        import kaleido

        browser = os.environ.get("BROWSER_PATH", "")
        if not browser or not os.access(browser, os.X_OK):
            raise ChartsUnavailable(f"no Chromium was found at {browser or '(BROWSER_PATH unset)'}")
        if self._pid is not None and self._pid != os.getpid():
            # A forked child inherits the parent's bookkeeping but not its server thread.
            kaleido.stop_sync_server(silence_warnings=True)
        if self._pid != os.getpid():
            kaleido.start_sync_server(silence_warnings=True)
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido")
            self._pid = os.getpid()

    def svg(self, figure: Mapping[str, Any], *, width: int, height: int) -> bytes:
        import kaleido

        with self._lock:
            if self._broken:
                raise ChartsUnavailable(self._broken)
            self._start()
            assert self._executor is not None
            future = self._executor.submit(
                kaleido.calc_fig_sync,
                dict(figure),
                opts={"format": "svg", "width": width, "height": height},
            )
            try:
                return bytes(future.result(timeout=CHART_TIMEOUT_SECONDS))
            except FutureTimeout:
                self._broken = "Chromium did not answer in time"
                raise ChartsUnavailable(self._broken) from None
            except Exception as exc:
                raise ChartsUnavailable(f"the chart export failed ({exc})") from exc


_server = _ChartServer()


def chart_images(data: Mapping[str, Any]) -> dict[str, str]:
    """Each chart of the report as an SVG data URI; raises ChartsUnavailable."""
    images = {}
    for name, figure in report_figures(data).items():
        width, height = CHART_SIZES[name]
        layout = {**figure["layout"], "width": width, "height": height}
        svg = _server.svg({**figure, "layout": layout}, width=width, height=height)
        images[name] = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    return images


def monthly_report_pdf_render(
    *,
    data: Mapping[str, Any],
    version: int,
    generated_at: dt.datetime,
    generated_by: str,
    charts: bool = True,
) -> bytes:
    """The report's A4 PDF from its frozen data; charts as SVG unless unavailable (or
    `charts` is False), in which case the PDF carries a note instead."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    images: dict[str, str] = {}
    charts_note = ""
    if charts:
        try:
            images = chart_images(data)
        except ChartsUnavailable as exc:
            logger.warning("Monthly report %s printed without charts: %s", data["month"], exc)
            charts_note = (
                f"Charts are left out of this PDF: {exc}. Every number is in the tables; "
                "the report page shows the charts."
            )
    context = {
        "data": data,
        "view": report_view(data),
        "charts": images,
        "charts_note": charts_note,
        "version": version,
        "generated_at": timezone.localtime(generated_at),
        "generated_by": generated_by,
    }
    html = render_to_string("reports/pdf/report.html", context)
    # Everything is embedded as data URIs: the PDF never fetches from the network or disk.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()

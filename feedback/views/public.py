"""The public survey page /s/<token>/: no login, one answer per link, built for a phone.

A used, expired or unknown link each gets its own page and changes nothing. No cookie is
set: the page needs neither a session nor a CSRF token. POSTs are
throttled per client address. Every response tells browsers and proxies not to keep it,
not to leak the link in a Referer, and tells robots not to index it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from feedback.forms import PublicAnswerForm
from feedback.models import Survey, SurveyInvitation
from feedback.services import (
    InvitationClosed,
    TokenStatus,
    answer_record,
    invitation_verify,
)

# At most this many answer submissions per client address per window: enough for a family
# behind one router, too few to grind through tokens or flood an account with answers.
THROTTLE_POSTS = 10
THROTTLE_WINDOW_SECONDS = 10 * 60

_NO_TRACE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}

# The words at the two ends of each scale.
SCALE_ENDS: dict[str, tuple[str, str]] = {
    Survey.Kind.NPS: ("Not at all likely", "Extremely likely"),
    Survey.Kind.CSAT: ("Very unsatisfied", "Very satisfied"),
    Survey.Kind.CES: ("Very difficult", "Very easy"),
}

_CLOSED_PAGES = {
    TokenStatus.USED: ("feedback/public_used.html", 410),
    TokenStatus.EXPIRED: ("feedback/public_expired.html", 410),
    TokenStatus.UNKNOWN: ("feedback/public_unknown.html", 404),
}

View = Callable[..., HttpResponse]


def _no_trace(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        for header, value in _NO_TRACE_HEADERS.items():
            response[header] = value
        return response

    return wrapped


def _throttled(request: HttpRequest) -> bool:
    """Count this POST against its address; True once the address is over the limit.

    A fixed window from the address's first POST: cache.add starts it, incr counts within
    it (atomic on Redis), and the key expires with the window.
    """
    key = f"feedback:survey-posts:{request.META.get('REMOTE_ADDR', 'unknown')}"
    cache.add(key, 0, THROTTLE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this POST opens a new window.
        cache.set(key, 1, THROTTLE_WINDOW_SECONDS)
        count = 1
    return count > THROTTLE_POSTS


def _closed(request: HttpRequest, status: str, invitation: SurveyInvitation | None) -> HttpResponse:
    template, code = _CLOSED_PAGES[status]
    return render(request, template, {"invitation": invitation}, status=code)


# No CSRF check: the unguessable token in the URL already proves the POST comes from the
# person holding the link, which is what a CSRF token would prove. And with
# Referrer-Policy: no-referrer, browsers send "Origin: null", which Django's check refuses.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
@_no_trace
def answer(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and _throttled(request):
        return render(
            request,
            "feedback/public_throttled.html",
            {"minutes": THROTTLE_WINDOW_SECONDS // 60},
            status=429,
        )
    check = invitation_verify(raw_token=token)
    if check.status != TokenStatus.OK or check.invitation is None:
        return _closed(request, check.status, check.invitation)
    invitation = check.invitation
    survey = invitation.campaign.survey
    form = PublicAnswerForm(request.POST or None, scale=survey.scale)
    if request.method == "POST" and form.is_valid():
        try:
            answer_record(
                survey=survey,
                account=invitation.account,
                contact=invitation.contact,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                invitation=invitation,
            )
        except InvitationClosed as exc:
            # The other tab of a double submit got there first.
            return _closed(request, exc.reason, invitation)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("public_survey:thanks", token=token)
    low, high = survey.scale
    chosen = form["score"].value() if form.is_bound else None
    context = {
        "survey": survey,
        "invitation": invitation,
        "form": form,
        "scale": [{"value": n, "checked": str(n) == str(chosen)} for n in range(low, high + 1)],
        "scale_ends": SCALE_ENDS[survey.kind],
        "wide_scale": high - low >= 10,
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "feedback/public_answer.html", context, status=status)


@login_not_required
@require_GET
@_no_trace
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    """Shown once the link is used, with what was answered; before that, back to the form."""
    check = invitation_verify(raw_token=token)
    if check.status == TokenStatus.OK:
        return redirect("public_survey:answer", token=token)
    if check.status != TokenStatus.USED or check.invitation is None:
        return _closed(request, check.status, check.invitation)
    invitation = check.invitation
    context = {
        "survey": invitation.campaign.survey,
        "invitation": invitation,
        "answer": invitation.answer,
    }
    return render(request, "feedback/public_thanks.html", context)

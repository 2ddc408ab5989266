"""Closing the loop: the follow-up of one unhappy answer, for whoever may edit its account
(the owner, a manager, an admin); 404 for everyone else."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedRequest
from feedback.forms import FollowUpForm
from feedback.selectors import follow_up_get_for_edit
from feedback.services import follow_up_update


@require_http_methods(["GET", "POST"])
def follow_up(request: AuthenticatedRequest, answer_id: int) -> HttpResponse:
    follow_up, account = follow_up_get_for_edit(user=request.user, answer_id=answer_id)
    form = FollowUpForm(
        request.POST or None,
        initial={"status": follow_up.status, "outcome": follow_up.outcome},
    )
    if request.method == "POST" and form.is_valid():
        try:
            follow_up_update(
                follow_up=follow_up,
                status=form.cleaned_data["status"],
                outcome=form.cleaned_data["outcome"],
                user=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Follow-up saved: {follow_up.get_status_display().lower()}.")
            return redirect("feedback:follow_up", answer_id=answer_id)
    context = {
        "follow_up": follow_up,
        "answer": follow_up.answer,
        "account": account,
        "task": follow_up.task,
        "form": form,
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "feedback/follow_up_detail.html", context, status=status)

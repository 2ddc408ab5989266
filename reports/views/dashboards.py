from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthenticatedRequest
from accounts.selectors import (
    accounts_visible_to,
    local_today,
    portfolio_summary,
    tasks_summary_for_owner,
)


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """The landing page for the user's role: their book for a CSM, the portfolio otherwise."""
    today = local_today()
    user = request.user
    accounts = accounts_visible_to(user)
    if user.is_csm:
        accounts = accounts.filter(owner=user)
    context = {
        "today": today,
        "scope_label": "My book" if user.is_csm else "Portfolio",
        "summary": portfolio_summary(accounts=accounts, today=today),
        "tasks": tasks_summary_for_owner(user=user, today=today)
        if user.can_edit_accounts
        else None,
    }
    return render(request, "reports/home.html", context)

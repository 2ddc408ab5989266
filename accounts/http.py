from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """The request type of views behind LoginRequiredMiddleware: `user` is a real User."""

    user: User

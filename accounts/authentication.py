from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class UserWithTeamBackend(ModelBackend):
    """Loads the user with their team: every page's header shows it and access checks use
    it, so this saves a query on every request."""

    def get_user(self, user_id: int) -> User | None:  # type: ignore[override]
        try:
            user = User.objects.select_related("team").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

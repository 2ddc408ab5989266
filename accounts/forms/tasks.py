from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.models import Account, Task, User
from accounts.selectors.access import local_today
from accounts.selectors.tasks import TaskScope, task_owner_candidates, task_owner_filter_choices


class _OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        team = f" · {obj.team}" if obj.team_id else ""
        return f"{obj} ({obj.get_role_display()}{team})"


class TaskForm(forms.ModelForm):
    """Create a task on an account, or change one (title, due date, priority, owner).

    The owner is limited to people who can see the account, so a task never lands with a
    CSM of another team. The view hands cleaned_data to task_create / task_update.
    """

    owner = _OwnerChoiceField(
        queryset=User.objects.none(),
        required=True,
        empty_label="Choose an owner",
        error_messages={
            "required": "Choose who owns the task.",
            "invalid_choice": "Pick someone who can see this account: its team, a manager "
            "or an admin.",
        },
    )

    class Meta:
        model = Task
        fields = ["title", "owner", "due_date", "priority", "description"]
        widgets = {
            "due_date": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.account = account
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        owner.queryset = task_owner_candidates(account=account).select_related("team")
        self.fields["title"].error_messages["required"] = "Give the task a title."
        self.fields["due_date"].error_messages["required"] = "Give the task a due date."
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("owner", account.owner_id)

    def clean_due_date(self) -> Any:
        due = self.cleaned_data["due_date"]
        today = local_today()
        # An existing task keeps its (possibly past) due date when only other fields change.
        unchanged = self.instance.pk is not None and due == self.instance.due_date
        if due < today and not unchanged:
            raise forms.ValidationError(
                f"The due date can't be in the past (today is {today:%d %b %Y})."
            )
        return due

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the task a title.")
        return title


class TaskFilterForm(forms.Form):
    """The /tasks/ scope and owner filter; only managers and admins get to use it."""

    scope = forms.ChoiceField(
        choices=[(TaskScope.MINE, "My tasks"), (TaskScope.TEAM, "My team's tasks")],
        required=False,
    )
    owner = _OwnerChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Everyone",
        error_messages={"invalid_choice": "You can't see that person's tasks."},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        owner.queryset = task_owner_filter_choices(user=user).select_related("team")
        if user.is_admin:
            cast(forms.ChoiceField, self.fields["scope"]).choices = [
                (TaskScope.MINE, "My tasks"),
                (TaskScope.TEAM, "All tasks"),
            ]

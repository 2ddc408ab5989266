from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.models import Account, Contact, Interaction
from accounts.selectors.access import local_today


class _ParticipantsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return f"{obj.name} · {obj.title}" if obj.title else obj.name


class InteractionForm(forms.ModelForm):
    """Log an interaction on one account; participants are limited to that account's contacts.

    With `with_next_step` (logging, not editing) it also asks for an optional next step,
    which interaction_log turns into a task for the account owner. The form only validates:
    the view hands cleaned_data to the service, which does the writing.
    """

    participants = _ParticipantsField(
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Contacts of this account who took part.",
    )
    next_step = forms.CharField(
        label="Next step",
        required=False,
        max_length=200,
        help_text="Optional. Becomes a task for the account owner.",
    )
    next_step_due = forms.DateField(
        label="Next step due",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Interaction
        fields = ["kind", "occurred_on", "participants", "summary", "sentiment"]
        labels = {"kind": "Type", "occurred_on": "Date"}
        widgets = {
            "occurred_on": forms.DateInput(attrs={"type": "date"}),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(
        self, *args: Any, account: Account, with_next_step: bool = True, **kwargs: Any
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.account = account
        participants = cast(forms.ModelMultipleChoiceField, self.fields["participants"])
        # Another account's contact id is then "not one of the available choices".
        participants.queryset = Contact.objects.filter(account=account).order_by("name")
        self.fields["summary"].error_messages["required"] = "Say what happened."
        # Every interaction has a kind: no empty "---------" choice to trip over.
        kind = cast(forms.ChoiceField, self.fields["kind"])
        kind.choices = Interaction.Kind.choices
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("occurred_on", local_today())
        if not with_next_step:
            del self.fields["next_step"]
            del self.fields["next_step_due"]

    def clean_occurred_on(self) -> Any:
        occurred_on = self.cleaned_data["occurred_on"]
        today = local_today()
        if occurred_on > today:
            raise forms.ValidationError(
                f"The interaction's date can't be in the future (today is {today:%d %b %Y})."
            )
        return occurred_on

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "next_step" not in self.fields:
            return cleaned
        step = cleaned.get("next_step") or ""
        due = cleaned.get("next_step_due")
        if step and due is None and "next_step_due" not in self.errors:
            self.add_error("next_step_due", "Give the next step a due date.")
        elif due is not None and not step:
            self.add_error("next_step", "Say what the next step is, or clear its due date.")
        elif due is not None and due < local_today():
            self.add_error("next_step_due", "The next step can't be due in the past.")
        return cleaned

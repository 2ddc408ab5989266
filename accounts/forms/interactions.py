from django import forms

from accounts.models import Account, Contact, Interaction


class InteractionForm(forms.ModelForm):
    """Log an interaction on one account; participants are limited to that account's contacts."""

    class Meta:
        model = Interaction
        fields = ["kind", "occurred_on", "participants", "summary", "sentiment"]
        widgets = {"occurred_on": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: object, account: Account, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["participants"].queryset = Contact.objects.filter(account=account)

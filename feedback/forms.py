"""Forms of the survey settings, campaigns, imports, follow-ups, tag rules and the public
answer page. Views hand cleaned_data to feedback.services."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email

from accounts.models import Contact, Segment
from cs_platform.upload_limits import csv_upload_limits_check
from feedback.models import FollowUp, Survey, Tag, TagRule
from feedback.selectors import contacts_by_email
from feedback.tagging import keywords_parse

# A picked list is pasted, not browsed: 50,000 accounts' contacts do not fit in a select.
MAX_PICKED_CONTACTS = 2000
# Longer comments are refused rather than cut: the person sees why.
MAX_COMMENT_LENGTH = 5000
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


class SurveyForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = ["name", "kind", "question", "follow_up_question", "is_active"]
        labels = {
            "follow_up_question": "Follow-up question (optional)",
            "is_active": "Active: can be sent and chosen by imports",
        }
        help_texts = {
            "question": "Shown above the score buttons, e.g. “How likely are you to recommend "
            "us to a colleague?”",
            "follow_up_question": "Shown above the comment box, e.g. “What is the main reason "
            "for your score?”",
        }
        widgets = {"kind": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = "Give the survey a name."
        self.fields["question"].error_messages["required"] = "Write the question people answer."
        self.fields["kind"].error_messages["required"] = "Choose NPS, CSAT or CES."

    def _post_clean(self) -> None:
        # The service validates and saves; the ModelForm must not write onto the instance
        # (the page would show unsaved values as the survey's name).
        pass


class CampaignForm(forms.Form):
    AUDIENCE_SEGMENT = "segment"
    AUDIENCE_PICKED = "picked"

    name = forms.CharField(
        max_length=200,
        error_messages={"required": "Give the campaign a name, e.g. “Q3 relationship NPS”."},
    )
    audience = forms.ChoiceField(
        choices=[
            (AUDIENCE_SEGMENT, "The active contacts of a segment's accounts"),
            (AUDIENCE_PICKED, "A list of contacts I paste"),
        ],
        widget=forms.RadioSelect,
        initial=AUDIENCE_SEGMENT,
        error_messages={"required": "Choose who gets the survey."},
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"),
        required=False,
        empty_label="Choose a segment",
        error_messages={"invalid_choice": "That segment no longer exists."},
    )
    emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Contact emails",
        help_text="One per line, or separated by commas. Each must be a contact in the app.",
    )
    skip_recently_surveyed_days = forms.IntegerField(
        min_value=0,
        max_value=3650,
        initial=90,
        label="Skip contacts surveyed in the last … days",
        help_text="Anyone invited by another campaign in this window is left out. 0 skips no one.",
        error_messages={
            "required": "Say how many days (0 to skip no one).",
            "invalid": "Enter a whole number of days.",
            "min_value": "Enter 0 or more days.",
            "max_value": "Enter at most 3650 days.",
        },
    )
    link_valid_days = forms.IntegerField(
        min_value=1,
        max_value=90,
        initial=14,
        label="Links stay valid for … days",
        error_messages={
            "required": "Say how long the links stay valid.",
            "invalid": "Enter a whole number of days.",
            "min_value": "Links must stay valid for at least 1 day.",
            "max_value": "Links can stay valid for at most 90 days.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        audience = data.get("audience")
        data["contacts"] = None
        if audience == self.AUDIENCE_SEGMENT:
            data["emails"] = ""
            if data.get("segment") is None and "segment" not in self.errors:
                self.add_error("segment", "Choose the segment to survey.")
        elif audience == self.AUDIENCE_PICKED:
            data["segment"] = None
            contacts = self._contacts_from_emails(data.get("emails") or "")
            if contacts is not None:
                data["contacts"] = contacts
        return data

    def _contacts_from_emails(self, text: str) -> list[Contact] | None:
        emails = list(dict.fromkeys(e.lower() for e in _EMAIL_SEPARATORS.split(text) if e))
        if not emails:
            self.add_error("emails", "Paste at least one contact's email.")
            return None
        if len(emails) > MAX_PICKED_CONTACTS:
            self.add_error(
                "emails", f"At most {MAX_PICKED_CONTACTS} emails; use a segment for more."
            )
            return None
        malformed = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                malformed.append(email)
        if malformed:
            self.add_error("emails", f"Not email addresses: {', '.join(malformed[:20])}.")
            return None
        found = contacts_by_email(emails)
        unknown = [e for e in emails if e not in found]
        gone = [e for e in emails if e in found and not found[e][0].is_active]
        if unknown:
            self.add_error("emails", f"No contact has these emails: {', '.join(unknown[:20])}.")
        if gone:
            self.add_error(
                "emails", f"These contacts have left their accounts: {', '.join(gone[:20])}."
            )
        if unknown or gone:
            return None
        # Someone who is a contact at two accounts answers for each: one link per account.
        return [c for e in emails for c in found[e] if c.is_active]


class AnswerImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty.",
        },
    )
    dry_run = forms.BooleanField(
        required=False, label="Only check the file; import nothing (dry run)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        csv_upload_limits_check(upload)
        return upload


class FollowUpForm(forms.Form):
    status = forms.ChoiceField(
        choices=FollowUp.Status.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose where this stands.",
            "invalid_choice": "Choose awaiting contact, contacted or resolved.",
        },
    )
    outcome = forms.CharField(
        required=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you learned and what was agreed. Needed to resolve.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if (
            data.get("status") == FollowUp.Status.RESOLVED
            and not (data.get("outcome") or "").strip()
        ):
            self.add_error("outcome", "Say how it was resolved.")
        return data


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "description"]
        help_texts = {"name": "A theme, e.g. performance, reporting, onboarding, pricing."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = "Give the tag a name."

    def _post_clean(self) -> None:
        # The service checks the name (case-insensitively unique) and saves.
        pass


class TagRuleForm(forms.ModelForm):
    class Meta:
        model = TagRule
        fields = ["tag", "keywords", "is_active"]
        labels = {"is_active": "Active: tags new answers"}
        help_texts = {
            "keywords": "Comma-separated words or phrases, e.g. “slow, timeout, takes "
            "forever”. Whole words, ignoring case and punctuation: “export” matches “CSV "
            "export!” but not “exporting”."
        }
        widgets = {"keywords": forms.TextInput}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        tag = self.fields["tag"]
        assert isinstance(tag, forms.ModelChoiceField)
        tag.queryset = Tag.objects.order_by("name")
        tag.empty_label = "Choose a tag"
        tag.error_messages["required"] = "Choose the tag the rule sets."
        self.fields["keywords"].error_messages["required"] = "Give at least one word or phrase."

    def clean_keywords(self) -> str:
        keywords = keywords_parse(self.cleaned_data["keywords"])
        if not keywords:
            raise ValidationError("Give at least one word or phrase.")
        return ", ".join(keywords)

    def _post_clean(self) -> None:
        pass


class PublicAnswerForm(forms.Form):
    """The public page's form. The score is rendered by hand as buttons on the scale."""

    score = forms.IntegerField()
    comment = forms.CharField(
        required=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "max_length": f"Please keep the comment under {MAX_COMMENT_LENGTH} characters."
        },
    )

    def __init__(self, *args: Any, scale: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        low, high = scale
        message = f"Choose a score from {low} to {high}."
        score = self.fields["score"]
        assert isinstance(score, forms.IntegerField)
        score.min_value, score.max_value = low, high
        score.error_messages = {
            "required": message,
            "invalid": message,
            "min_value": message,
            "max_value": message,
        }
        self.scale = scale

    def clean_score(self) -> int:
        value = self.cleaned_data["score"]
        low, high = self.scale
        if not low <= value <= high:
            raise ValidationError(f"Choose a score from {low} to {high}.")
        return value

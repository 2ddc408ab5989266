"""factory_boy factories for the domain models. Defaults make a valid, unremarkable row."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import (
    Account,
    Contact,
    Contract,
    Interaction,
    Segment,
    SupportTicket,
    Task,
    Team,
    UsageRecord,
    User,
)
from feedback.models import Survey, SurveyAnswer


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.CSM
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n:04d}")
    external_id = factory.Sequence(lambda n: f"ACC-{n:05d}")
    owner = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda a: a.owner.team if a.owner else None)
    industry = "Software"
    tier = Account.Tier.SCALED
    lifecycle_status = Account.Lifecycle.ACTIVE
    start_date = dt.date(2025, 1, 1)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    title = "Operations lead"


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    account = factory.SubFactory(AccountFactory)
    start_date = dt.date(2025, 1, 1)
    end_date = factory.LazyAttribute(
        lambda c: c.start_date.replace(year=c.start_date.year + 1) - dt.timedelta(days=1)
    )
    arr = Decimal("12000.00")
    seats = 20


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = Segment.Kind.RULE
    rules = factory.LazyFunction(dict)


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    account = factory.SubFactory(AccountFactory)
    author = factory.LazyAttribute(lambda i: i.account.owner)
    kind = Interaction.Kind.CALL
    occurred_on = dt.date(2026, 1, 15)
    summary = "Checked in on the rollout."


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    account = factory.SubFactory(AccountFactory)
    owner = factory.LazyAttribute(lambda t: t.account.owner)
    title = factory.Sequence(lambda n: f"Follow up {n}")
    due_date = dt.date(2026, 2, 1)


class UsageRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageRecord

    account = factory.SubFactory(AccountFactory)
    day = dt.date(2026, 1, 1)
    active_users = 10
    licensed_seats = 20
    logins = 30
    key_features_used = 3
    events = 200


class SupportTicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportTicket

    account = factory.SubFactory(AccountFactory)
    external_id = factory.Sequence(lambda n: f"T-{n:06d}")
    subject = "Export is slow"
    opened_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=2))


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Relationship NPS {n}")
    kind = Survey.Kind.NPS
    question = "How likely are you to recommend us to a colleague?"


class SurveyAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyAnswer

    survey = factory.SubFactory(SurveyFactory)
    account = factory.SubFactory(AccountFactory)
    kind = factory.LazyAttribute(lambda a: a.survey.kind)
    score = 9
    answered_at = factory.LazyFunction(timezone.now)

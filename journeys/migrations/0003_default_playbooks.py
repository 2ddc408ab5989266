from django.db import migrations

# The four playbooks of issue 5. (name, trigger, params, [(title, due in days, priority)]);
# every task goes to the account owner. The milestone one watches the onboarding stage.
DEFAULT_PLAYBOOKS = [
    (
        "Renewal in 90 days",
        "renewal_in_days",
        {"days": 90},
        [("Prepare the renewal: review health, usage and stakeholders", 7, "normal")],
    ),
    (
        "Detractor follow-up",
        "detractor",
        {},
        [("Call the detractor within 3 days", 3, "high")],
    ),
    (
        "Onboarding milestone overdue",
        "milestone_overdue",
        {"stage": "onboarding"},
        [("Unblock the overdue onboarding milestone", 2, "high")],
    ),
    (
        "Health dropped to red",
        "band_changed_to",
        {"band": "red"},
        [("Health dropped into red: review the account", 3, "high")],
    ),
]


def create_defaults(apps, schema_editor):
    Playbook = apps.get_model("journeys", "Playbook")
    PlaybookTaskTemplate = apps.get_model("journeys", "PlaybookTaskTemplate")
    Stage = apps.get_model("journeys", "Stage")
    for name, trigger, params, templates in DEFAULT_PLAYBOOKS:
        if Playbook.objects.filter(name=name).exists():
            continue  # renamed or recreated by someone: leave theirs alone
        params = dict(params)
        if "stage" in params:
            stage = Stage.objects.filter(slug=params["stage"]).first()
            if stage is None:
                continue  # no onboarding stage to watch; an admin can add the playbook later
            params["stage"] = stage.pk
        playbook = Playbook.objects.create(name=name, trigger=trigger, params=params)
        for order, (title, due_in_days, priority) in enumerate(templates):
            PlaybookTaskTemplate.objects.create(
                playbook=playbook,
                title=title,
                due_in_days=due_in_days,
                priority=priority,
                assignee="owner",
                order=order,
            )


class Migration(migrations.Migration):
    dependencies = [("journeys", "0002_default_stages")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]

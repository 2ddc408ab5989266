from django.db import migrations

# The journey of seed 004: onboarding -> activation -> deepening use (adoption) -> renewal.
# (name, slug, target days, auto-advance, [(milestone, target days, stuck days, required)])
DEFAULT_STAGES = [
    ("Onboarding", "onboarding", 45, True, [
        ("Kickoff call held", 7, 14, True),
        ("Technical setup complete", 21, 35, True),
        ("Admins trained", 30, 45, True),
    ]),
    ("Activation", "activation", 60, True, [
        ("First value delivered", 30, 45, True),
        ("Half of licensed seats active", 45, 75, True),
    ]),
    ("Adoption", "adoption", 180, False, [
        ("Key features in regular use", 60, 90, True),
        ("First business review (QBR) held", 90, 120, True),
        ("Expansion opportunity identified", 150, 210, False),
    ]),
    ("Renewal", "renewal", 90, False, [
        ("Renewal conversation started", 14, 30, True),
        ("Renewal signed", 60, 90, True),
    ]),
]


def create_defaults(apps, schema_editor):
    Stage = apps.get_model("journeys", "Stage")
    Milestone = apps.get_model("journeys", "Milestone")
    if Stage.objects.exists():
        return
    for order, (name, slug, target, auto, milestones) in enumerate(DEFAULT_STAGES, start=1):
        stage = Stage.objects.create(
            name=name, slug=slug, order=order, target_days=target, auto_advance=auto
        )
        for position, (title, target_days, stuck_days, required) in enumerate(milestones):
            Milestone.objects.create(
                stage=stage, name=title, order=position, target_days=target_days,
                stuck_days=stuck_days, is_required=required,
            )


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]

"""Usage: the account's own index goes (the (account, day) unique index serves it), and on
PostgreSQL a covering index on (account, day) with the measures the health recompute sums
takes its place, so the nightly aggregation is an index-only scan of the window's rows."""

import django.db.models.deletion
from django.db import migrations, models

COVERING_INDEX = "usage_account_day_cover"


def covering_index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no INCLUDE; the unique index serves the demo.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {COVERING_INDEX} ON accounts_usagerecord (account_id, day) "
        "INCLUDE (active_users, licensed_seats, key_features_used)"
    )


def covering_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {COVERING_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_webhook_delivery_dedupe_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usagerecord",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="usage_records",
                to="accounts.account",
            ),
        ),
        migrations.RunPython(covering_index_create, covering_index_drop, elidable=False),
    ]

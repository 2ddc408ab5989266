from django.db import migrations

# "My book" reads its accounts' journeys from the accounts' side, one probe per account. The
# account's unique key alone costs each probe a visit to the table, so for a book of more
# than about a hundred accounts the planner hashed every journey instead (38,000 rows,
# 5 ms); with the stage and entry moment in the index each probe is an index-only read
# (0.4 ms for 124 accounts). PostgreSQL only: INCLUDE is not SQLite's, whose test tables
# are read whole anyway.


def create_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS journey_account_stage_idx"
        " ON journeys_accountjourney (account_id) INCLUDE (stage_id, entered_at)"
    )


def drop_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS journey_account_stage_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0004_journey_rollups"),
    ]

    operations = [
        migrations.RunPython(create_postgres_index, drop_postgres_index),
    ]

from django.db import migrations

# ?tier= on the account list: a manager's count of one tier read the whole table (57 ms at
# 50,000 accounts, a third of them in each tier); this index counts it without the table
# (2 ms). PostgreSQL only, like 0003 and 0014; the nightly health job does not change the
# column, so its in-place (HOT) updates stay in place.


def create_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE INDEX IF NOT EXISTS account_tier_idx ON accounts_account (tier)")


def drop_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS account_tier_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_account_list_count_indexes"),
    ]

    operations = [
        migrations.RunPython(create_postgres_index, drop_postgres_index),
    ]

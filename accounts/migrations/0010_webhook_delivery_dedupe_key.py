from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_audit_entry"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="dedupe_key",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(("dedupe_key", ""), _negated=True),
                fields=("endpoint", "dedupe_key"),
                name="webhook_delivery_once_per_key",
            ),
        ),
    ]

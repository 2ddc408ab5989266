"""Every periodic job, in one place. Crontab entries only: interval schedules reset when beat
restarts, and a crontab entry that missed several days fires once, not once per day missed.

Each entry says what it does, why at that hour, and when it expires (a job not picked up by
then is dropped rather than run late over the day's traffic).
"""

from celery.schedules import crontab

HOUR = 60 * 60

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Refresh each account's current ARR and renewal date from its contracts, so lists and
    # filters read one column. 01:00, before the health job that reads them; expires in 6 h.
    "accounts-rollup-nightly": {
        "task": "accounts.tasks.account_rollups_refresh_task",
        "schedule": crontab(hour=1, minute=0),
        "options": {"expires": 6 * HOUR},
    },
}

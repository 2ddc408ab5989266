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
    # Every account's health for the day, fanned out in account-id chunks. 02:00: after the
    # rollups and after usage for the previous day has landed; expires in 6 h.
    "health-nightly": {
        "task": "health.tasks.health_scores_recompute_task",
        "schedule": crontab(hour=2, minute=0),
        "options": {"expires": 6 * HOUR},
    },
    # Webhooks for the day's health band changes and renewals at risk, each announced once.
    # 02:50: after health (02:00) has scored the day; expires in 6 h.
    "health-webhook-events": {
        "task": "accounts.webhook_tasks.health_webhook_events_task",
        "schedule": crontab(hour=2, minute=50),
        "options": {"expires": 6 * HOUR},
    },
    # Retention snapshots per month and scope. 03:30: after health, whose bands feed ARR at
    # risk; expires in 6 h.
    "retention-nightly": {
        "task": "health.tasks.retention_snapshots_recompute_task",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * HOUR},
    },
    # The dashboards' metric snapshots per month and scope. 03:45: after retention (03:30),
    # whose rows they sit beside; expires in 6 h.
    "metric-snapshots-nightly": {
        "task": "reports.tasks.metric_snapshots_recompute_task",
        "schedule": crontab(hour=3, minute=45),
        "options": {"expires": 6 * HOUR},
    },
    # Playbooks: every active rule over every live account, each occurrence once. 04:00:
    # after the rollups (01:00) and health (02:00) whose renewal dates, bands and drops they
    # read; expires in 6 h.
    "playbooks-nightly": {
        "task": "journeys.tasks.playbooks_run_task",
        "schedule": crontab(hour=4, minute=0),
        "options": {"expires": 6 * HOUR},
    },
    # The journeys page's figures per scope (funnel, time in stage, overdue milestones, time
    # to value). 04:10: after the rollups (01:00) whose ARR it sums and health (02:00) whose
    # bands move rule segments, and after playbooks (04:00); expires in 6 h.
    "journey-rollups-nightly": {
        "task": "journeys.tasks.journey_rollups_recompute_task",
        "schedule": crontab(hour=4, minute=10),
        "options": {"expires": 6 * HOUR},
    },
    # The 90-day backtest of the whole portfolio: the validation page's default view and the
    # churn-risk model. Sundays 04:30, after the night's health scores; expires in 12 h.
    "health-backtest-weekly": {
        "task": "health.tasks_validation.backtest_task",
        "schedule": crontab(hour=4, minute=30, day_of_week=0),
        "args": (90,),
        "options": {"expires": 12 * HOUR},
    },
    # Every live account's churn risk from its latest score. 05:00: after health and the
    # Sunday backtest; expires in 6 h.
    "churn-risk-nightly": {
        "task": "health.tasks_validation.churn_predictions_task",
        "schedule": crontab(hour=5, minute=0),
        "options": {"expires": 6 * HOUR},
    },
    # The executive report for the month before, emailed to subscribers. 06:00 on the 1st:
    # after health (02:00) and retention (03:30) close the month; only_if_missing makes a
    # repeat firing a no-op. Expires in 12 h.
    "monthly-report": {
        "task": "reports.tasks_monthly.monthly_report_generate_task",
        "schedule": crontab(day_of_month=1, hour=6, minute=0),
        "kwargs": {"only_if_missing": True},
        "options": {"expires": 12 * HOUR},
    },
}

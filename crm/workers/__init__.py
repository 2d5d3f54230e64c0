"""Background work: the Celery app, the campaign follower, tasks and delivery backends.

`celery -A crm.workers worker` finds the app here; it is created on first access, from the
environment, never at import time.
"""


def __getattr__(name: str):
    if name in ("app", "celery"):
        from crm.workers.celery_app import get_app

        return get_app()
    raise AttributeError(name)

"""The simulated carrier's own work, in the interactive queue (it stands for the vendor)."""

from __future__ import annotations

from celery import shared_task

from . import carrier


@shared_task(name="simulator.message_progress")
def message_progress(*, account_sid: str, sid: str, callback: str, step: int = 0) -> None:
    """A sent message moves on (sent, then delivered or undelivered), one status callback each."""
    if carrier.message_advance(account_sid=account_sid, sid=sid, callback=callback, step=step) is not None:
        message_progress.apply_async(kwargs={"account_sid": account_sid, "sid": sid, "callback": callback,
                                             "step": step + 1}, countdown=carrier.STEP_SECONDS)


def message_sent(*, account_sid: str, sid: str, callback: str) -> None:
    message_progress.apply_async(kwargs={"account_sid": account_sid, "sid": sid, "callback": callback, "step": 0},
                                 countdown=carrier.STEP_SECONDS)

"""The simulated carrier's own work, in the interactive queue (it stands for the vendor)."""

from __future__ import annotations

from celery import shared_task

from . import carrier, voice


@shared_task(name="simulator.message_progress")
def message_progress(*, account_sid: str, sid: str, callback: str, step: int = 0) -> None:
    """A sent message moves on to its status number `step` (sent, then delivered or undelivered),
    with one status callback."""
    carrier.message_advance(account_sid=account_sid, sid=sid, callback=callback, step=step)


def message_sent(*, account_sid: str, sid: str, callback: str) -> None:
    """Every step of a message the carrier accepted, scheduled at once a second apart (each stands
    alone: a step that fails does not hold up the next)."""
    for step in range(len(carrier.PROGRESS)):
        message_progress.apply_async(kwargs={"account_sid": account_sid, "sid": sid, "callback": callback,
                                             "step": step}, countdown=carrier.STEP_SECONDS * (step + 1))


@shared_task(name="simulator.whatsapp_progress")
def whatsapp_progress(*, phone_number_id: str, wamid: str, recipient_id: str, step: int = 0) -> None:
    """Meta tells of a sent WhatsApp message: its status number `step` (sent, then delivered)."""
    carrier.whatsapp_advance(phone_number_id=phone_number_id, wamid=wamid, recipient_id=recipient_id, step=step)


def whatsapp_sent(*, phone_number_id: str, wamid: str, recipient_id: str) -> None:
    for step in range(len(carrier.WHATSAPP_PROGRESS)):
        whatsapp_progress.apply_async(kwargs={"phone_number_id": phone_number_id, "wamid": wamid,
                                              "recipient_id": recipient_id, "step": step},
                                      countdown=carrier.STEP_SECONDS * (step + 1))


@shared_task(name="simulator.carrier_receipt")
def carrier_receipt(*, vendor: str, message_id: str, step: int = 0) -> None:
    """Vonage's delivery receipt, or Bandwidth's status event, for a sent message: step `step`."""
    carrier.receipt_advance(vendor=vendor, message_id=message_id, step=step)


def vonage_sent(*, message_id: str) -> None:
    carrier_receipt.apply_async(kwargs={"vendor": "vonage", "message_id": message_id}, countdown=carrier.STEP_SECONDS)


def bandwidth_sent(*, message_id: str) -> None:
    carrier_receipt.apply_async(kwargs={"vendor": "bandwidth", "message_id": message_id},
                                countdown=carrier.STEP_SECONDS)


@shared_task(name="simulator.voice_tick")
def voice_tick() -> None:
    """The simulated carrier's calls move on: whatever fell due (a dial nobody answered, a voicemail
    finished, a talk with an AI agent over) happens now."""
    voice_deliver(voice.tick())


def voice_deliver(out: list) -> None:
    """Post what a simulated call step produced; each timer it set gets a tick at its moment."""
    voice.deliver(out, schedule=lambda seconds: voice_tick.apply_async(countdown=seconds))

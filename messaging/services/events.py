"""Inbound events: stored by the webhook in one statement, turned into messages by a worker."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.ids import uuid7
from messaging.models import InboundDrain, InboundEvent
from messaging.providers import adapter_class
from telephony.models import PhoneNumber
from tenants.models import Organization
from tenants.rls import call_committing, execute_in_tenant
from tenants.services import audit

from .inbound import message_receive

logger = logging.getLogger(__name__)


def inbound_event_store(*, organization: Organization, provider: str, provider_sid: str, payload: dict,
                        phone_number_id=None) -> bool:
    """Store what the provider sent, once per provider id, and ask for its processing.

    An INSERT … ON CONFLICT DO NOTHING, as the organization (row-level security checks it): a
    repeated or concurrent duplicate inserts nothing and asks for nothing. Outside a transaction (a
    webhook) one round trip does it all: the procedure messaging_inbound_events_store inserts,
    commits, and then claims a drain request unless one stands (see InboundDrain), for this event
    and for those that other threads of the process are storing at the same moment (group commit,
    see _GroupCommit); the broker is called only by the webhook that claimed it. Inside a
    transaction the same insert runs, and the claim after the commit. Returns True when this call
    stored the event."""
    event = (organization.pk, uuid7(), provider, provider_sid, phone_number_id, json.dumps(payload))
    if transaction.get_connection().in_atomic_block:
        [(stored,)] = execute_in_tenant(organization.pk,
                                        "select messaging_inbound_event_insert(%s, %s, %s, %s, %s, %s)", list(event))
        if stored:
            transaction.on_commit(lambda: drain_request(organization))
        return stored
    stored, claimed = _group_commit.store(event)
    if claimed:
        _drain_enqueue(organization)
    return stored


class _Waiting:
    __slots__ = ("event", "done", "outcome", "error")

    def __init__(self, event: tuple):
        self.event, self.done, self.outcome, self.error = event, False, None, None


class _GroupCommit:
    """Group commit for the webhooks of one process. Each commit waits for the disk to flush the
    write-ahead log; events that arrive while one is being stored wait for it, and are then stored
    together, by the first of their threads, in one round trip and one flush (messaging_inbound_
    events_store). Idle, every event is stored at once by its own thread, alone. Under load a batch
    holds about as many events as the process has threads, which costs the machine a fraction of
    one flush and one round trip each (docs/benchmarks.md).

    Each caller gets its own event's outcome, or its own event's error: when a batch fails, its
    events are stored again one by one, so a bad event fails alone and no event is lost or stored
    twice (a retried insert of a stored event finds it and stores nothing)."""

    def __init__(self):
        self._condition = threading.Condition()
        self._pending: list[_Waiting] = []
        self._storing = False

    def store(self, event: tuple) -> tuple[bool, bool]:
        mine = _Waiting(event)
        with self._condition:
            self._pending.append(mine)
            while self._storing and not mine.done:
                self._condition.wait()
            if not mine.done:  # nobody is storing: this thread stores every event waiting, its own among them
                batch, self._pending, self._storing = self._pending, [], True
        if not mine.done:
            try:
                self._write(batch)
            finally:
                with self._condition:
                    for waiting in batch:
                        if waiting.outcome is None and waiting.error is None:  # _write was interrupted
                            waiting.error = RuntimeError("storing the event was interrupted")
                        waiting.done = True
                    self._storing = False
                    self._condition.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.outcome

    @staticmethod
    def _write(batch: list[_Waiting]) -> None:
        """Set each waiting event's outcome or error."""
        try:
            outcomes = _events_store([waiting.event for waiting in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for waiting in batch:
                try:
                    [waiting.outcome] = _events_store([waiting.event])
                except Exception as alone:
                    waiting.error = alone
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.outcome = outcome


def _events_store(events: list[tuple]) -> list[tuple[bool, bool]]:
    """One call of messaging_inbound_events_store: (stored, drain claimed) for each event."""
    organizations, ids, providers, sids, numbers, payloads = zip(*events, strict=True)
    stored, claimed = call_committing("messaging_inbound_events_store", [
        list(organizations), list(ids), list(providers), list(sids), list(numbers),
        "[" + ",".join(payloads) + "]", [uuid7() for _ in events], DRAIN_REQUEST_SECONDS,
    ])
    return list(zip(stored, claimed, strict=True))


_group_commit = _GroupCommit()


# Coalescing: under load one drain task serves many events. A request for a drain stands for
# DRAIN_REQUEST_SECONDS (or until the drain runs out of work); while it stands, webhooks ask for
# nothing. The drain marks it spent before its last look for work, so an event committed while it
# stood is seen by that look, and one committed later finds no request standing and makes one.
DRAIN_REQUEST_SECONDS = 2


def drain_request(organization: Organization) -> None:
    """Ask a worker to process the organization's events, unless a request stands already."""
    [(claimed,)] = execute_in_tenant(organization.pk, "select messaging_inbound_drain_claim(%s, %s, %s)",
                                     [organization.pk, uuid7(), DRAIN_REQUEST_SECONDS])
    if claimed:
        _drain_enqueue(organization)


def _drain_enqueue(organization: Organization) -> None:
    from messaging.tasks import inbound_events_drain

    try:
        inbound_events_drain.delay(organization_id=str(organization.pk))
    except Exception as exc:  # the broker is down: the event is stored; the sweeper drains it
        # The claimed request lapses by itself, so a webhook asks again once the broker is back.
        logger.warning("could not request a drain for %s (%s: %s); the sweeper will", organization.pk,
                       type(exc).__name__, exc)


def _drain_request_spent(organization: Organization) -> None:
    InboundDrain.objects.filter(organization=organization).update(requested_until=timezone.now() - timedelta(days=1))


def inbound_events_drain(*, organization: Organization, batch: int = 200) -> int:
    """Process every pending event of the organization that is due, oldest first. Returns how many
    were processed. An event that fails is put back to wait for its retry (or set aside as failed)
    and the drain goes on with the next one: one bad event never holds up the others."""
    done = 0
    cleared = False
    while True:
        ids = list(_due(organization).order_by("received_at").values_list("pk", flat=True)[:batch])
        for event_id in ids:
            done += inbound_event_process(organization=organization, event_id=event_id)
        if len(ids) == batch:
            continue
        if cleared:
            return done
        _drain_request_spent(organization)
        cleared = True  # look once more: an event may have come in while the request still stood


def _pending(organization: Organization):
    return InboundEvent.objects.filter(organization=organization, processed_at__isnull=True, failed_at__isnull=True)


def _due(organization: Organization, now=None):
    now = now or timezone.now()
    return _pending(organization).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def inbound_events_retry_wait(*, organization: Organization) -> float | None:
    """Seconds until the organization's next retry of a failed event is due, when a delayed drain
    must be queued for it; None when none is needed (nothing waits for a retry, or a delayed drain
    queued earlier comes soon enough). Claims the queued drain's time on InboundDrain, so however
    many drains run meanwhile, one delayed drain serves each due time."""
    now = timezone.now()
    due = (_pending(organization).filter(next_attempt_at__gt=now).order_by("next_attempt_at")
           .values_list("next_attempt_at", flat=True).first())
    if due is None:
        return None
    unclaimed = Q(retry_at__isnull=True) | Q(retry_at__lte=now) | Q(retry_at__gt=due)
    if not InboundDrain.objects.filter(organization=organization).filter(unclaimed).update(retry_at=due):
        if InboundDrain.objects.filter(organization=organization).exists():
            return None  # a delayed drain is queued for this time or before
        try:
            with transaction.atomic():
                InboundDrain.objects.create(organization=organization, requested_until=now, retry_at=due)
        except IntegrityError:  # created meanwhile by a webhook: the next drain looks again
            return None
    # A little late rather than early: a drain that ran before the retry was due would find nothing.
    return (due - now).total_seconds() + 0.05


def inbound_events_unprocessed(*, organization: Organization, older_than: timedelta):
    """Events due for processing that nobody processed for `older_than` (the sweeper's)."""
    return _due(organization).filter(received_at__lt=timezone.now() - older_than)


def inbound_event_process(*, organization: Organization, event_id) -> bool:
    """Turn a stored event into contact, conversation and message (once, whoever runs it).

    True when it was processed. When processing raises, whatever it wrote is rolled back and the
    event records the attempt and its error: it is tried again after a backoff
    (INBOUND_EVENT_RETRY_SECONDS, doubled after each failure), and after INBOUND_EVENT_ATTEMPTS it is
    set aside as failed, for an admin to see and retry (inbound_events_retry)."""
    with transaction.atomic():
        event = _due(organization).select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None:
            return False  # done already, waiting for its retry, or being done by another worker right now
        try:
            with transaction.atomic():
                _event_apply(organization, event)
        except Exception as exc:  # whatever it is, it must not stop the events after this one
            _event_failed(event, exc)
            return False
        event.processed_at = timezone.now()
        event.next_attempt_at = None
        event.save(update_fields=["processed_at", "next_attempt_at"])
    return True


def _event_apply(organization: Organization, event: InboundEvent) -> None:
    number = PhoneNumber.objects.select_related("agent").filter(pk=event.phone_number_id).first()
    if event.provider == "twilio" and number is not None:
        message = adapter_class(event.provider).inbound_message(event.payload)
        message.received_at = event.received_at
        message_receive(organization=organization, inbound=message, phone_number=number)


ERROR_LONGEST = 2000


def _described(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"ValidationError: {' '.join(exc.messages)}"
    return f"{type(exc).__name__}: {exc}"


def _event_failed(event: InboundEvent, exc: Exception) -> None:
    """Record a failed attempt on the locked row: retry later, or set aside for good."""
    now = timezone.now()
    event.attempts += 1
    event.last_error = _described(exc)[:ERROR_LONGEST]
    if event.attempts >= settings.INBOUND_EVENT_ATTEMPTS:
        event.failed_at, event.next_attempt_at = now, None
        logger.error("inbound event %s failed %d times and is set aside (%s)", event.pk, event.attempts,
                     type(exc).__name__)
    else:
        wait = settings.INBOUND_EVENT_RETRY_SECONDS * 2 ** (event.attempts - 1)
        event.next_attempt_at = now + timedelta(seconds=wait)
        logger.warning("inbound event %s failed (attempt %d, %s); tried again in %.1f s", event.pk,
                       event.attempts, type(exc).__name__, wait)
    event.save(update_fields=["attempts", "last_error", "failed_at", "next_attempt_at"])


def inbound_events_retry(*, organization: Organization, actor, event_ids) -> int:
    """Put failed events of the organization back in line, with a full set of attempts, and ask for
    a drain. Returns how many. For platform admins (the Django admin's "retry" action)."""
    with transaction.atomic():
        events = list(InboundEvent.objects.select_for_update()
                      .filter(organization=organization, pk__in=event_ids, failed_at__isnull=False,
                              processed_at__isnull=True))
        for event in events:
            audit(organization=organization, actor=actor, verb="inbound_event.retried", target=event,
                  data={"attempts": event.attempts, "last_error": event.last_error[:200]})
        InboundEvent.objects.filter(pk__in=[event.pk for event in events]).update(
            failed_at=None, next_attempt_at=None, attempts=0)
        if events:
            transaction.on_commit(lambda: drain_request(organization))
    return len(events)


_redis = None


def redis_client():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _redis

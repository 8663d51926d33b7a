"""The inbound pipeline, top to bottom: from what a provider tells us to a row, and to the screen.

1. Store (the webhook, messaging/webhooks.py): the event exactly as it arrived, once per provider
   id, in one round trip with group commit (`inbound_event_store`); the SQL that runs in the
   database is in messaging/sql/inbound.sql.
2. Ask for a drain, coalesced: one request stands for many events (`drain_request`, InboundDrain).
3. Drain (a worker, messaging.tasks.inbound_events_drain): due events in batches (`_batch_process`),
   each batch one transaction: events claimed with FOR UPDATE SKIP LOCKED, each payload parsed by its
   vendor's adapter, then contacts, conversations and messages written set-wise
   (`messages_receive`), sentiment scored in the batch, the events marked processed.
4. A bad event fails alone: a payload that cannot be parsed fails its event at once; when the batch
   raises, it is done again one event at a time, each in a savepoint, and only the bad event records
   its attempt and waits for a retry with backoff, until it is set aside as failed (`_event_failed`).
5. The screen: once the batch commits, the inbox's change counters are raised once per conversation
   and audience, in one Redis round trip (services.live).

The WhatsApp Cloud API webhook builds its messages in the request: `message_receive`, a batch of one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.group_commit import GroupCommit
from core.ids import uuid7
from crm.models import Channel, Contact
from crm.services import Sender, contact_set_opt_out, contacts_for
from messaging import jobs
from messaging.models import (
    ConversationStatus,
    Direction,
    InboundDrain,
    InboundEvent,
    MediaType,
    Message,
    MessageChannel,
    MessageStatus,
    WhatsAppSender,
)
from messaging.providers import adapter_class
from messaging.providers.base import Inbound
from telephony.models import PhoneNumber
from tenants.models import Organization
from tenants.rls import call_committing, execute_in_tenant
from tenants.services import audit

from .conversations import ConversationKey, conversations_for
from .live import inbox_changed_many
from .meaning import embedding_request
from .sentiment import message_sentiment

logger = logging.getLogger(__name__)


# 1. Store ------------------------------------------------------------------------------------------


def inbound_event_store(*, organization: Organization, provider: str, provider_sid: str, payload: dict,
                        phone_number_id=None) -> bool:
    """Store what the provider sent, once per provider id, and ask for its processing.

    An INSERT … ON CONFLICT DO NOTHING, as the organization (row-level security checks it): a
    repeated or concurrent duplicate inserts nothing and asks for nothing. Outside a transaction (a
    webhook) one round trip does it all: the procedure messaging_inbound_events_store inserts,
    commits, and then claims a drain request unless one stands (see InboundDrain), for this event
    and for those that other threads of the process are storing at the same moment (group commit,
    see core.group_commit); the broker is called only by the webhook that claimed it. Inside a
    transaction the same insert runs, and the claim after the commit. Returns True when this call
    stored the event."""
    event = (organization.pk, uuid7(), provider, provider_sid, phone_number_id, json.dumps(payload))
    if transaction.get_connection().in_atomic_block:
        [(stored,)] = execute_in_tenant(organization.pk,
                                        "select messaging_inbound_event_insert(%s, %s, %s, %s, %s, %s)", list(event))
        if stored:
            transaction.on_commit(lambda: drain_request(organization))
        return stored
    stored, claimed = _group_commit.write(event)
    if claimed:
        jobs.inbound_events_drain(organization.pk)
    return stored


def _events_store(events: list[tuple]) -> list[tuple[bool, bool]]:
    """One call of messaging_inbound_events_store: (stored, drain claimed) for each event."""
    organizations, ids, providers, sids, numbers, payloads = zip(*events, strict=True)
    stored, claimed = call_committing("messaging_inbound_events_store", [
        list(organizations), list(ids), list(providers), list(sids), list(numbers),
        "[" + ",".join(payloads) + "]", [uuid7() for _ in events], DRAIN_REQUEST_SECONDS,
    ])
    return list(zip(stored, claimed, strict=True))


# Events that arrive while one is being stored are stored together (core.group_commit).
_group_commit = GroupCommit(_events_store)


# 2. Ask for a drain, coalesced ---------------------------------------------------------------------

# Under load one drain task serves many events. A request for a drain stands for
# DRAIN_REQUEST_SECONDS (or until the drain runs out of work); while it stands, webhooks ask for
# nothing. The drain marks it spent before its last look for work, so an event committed while it
# stood is seen by that look, and one committed later finds no request standing and makes one.
DRAIN_REQUEST_SECONDS = 2


def drain_request(organization: Organization) -> None:
    """Ask a worker to process the organization's events, unless a request stands already. A broker
    that cannot be reached loses nothing: the event is stored, the claimed request lapses by itself
    (so a webhook asks again once the broker is back) and the sweeper drains meanwhile."""
    [(claimed,)] = execute_in_tenant(organization.pk, "select messaging_inbound_drain_claim(%s, %s, %s)",
                                     [organization.pk, uuid7(), DRAIN_REQUEST_SECONDS])
    if claimed:
        jobs.inbound_events_drain(organization.pk)


def _drain_request_spent(organization: Organization) -> None:
    InboundDrain.objects.filter(organization=organization).update(requested_until=timezone.now() - timedelta(days=1))


# 3. Drain ------------------------------------------------------------------------------------------

# Events per transaction. Larger batches share their fixed costs (a dozen statements and a commit)
# among more messages, but hold their locks (the events', and the conversations' they touch) longer.
BATCH = 250


def inbound_events_drain(*, organization: Organization, batch: int = BATCH) -> int:
    """Process every pending event of the organization that is due, oldest first, `batch` at a time.
    Returns how many were processed. An event that fails is put back to wait for its retry (or set
    aside as failed) and the drain goes on: one bad event never holds up the others."""
    done = 0
    cleared = False
    while True:
        processed, claimed = _batch_process(organization, batch)
        done += processed
        if claimed == batch:
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


@dataclass
class Received:
    """One inbound message to store: what the vendor said (parsed by its adapter), who sent it, and
    the line of ours it reached (a phone number, or a WhatsApp Cloud API sender)."""

    inbound: Inbound
    sender: Sender
    phone_number: PhoneNumber | None = None
    whatsapp_sender: WhatsAppSender | None = None

    @classmethod
    def of(cls, inbound: Inbound, *, phone_number=None, whatsapp_sender=None) -> Received:
        """ValidationError when the message has no usable sender address."""
        return cls(inbound, Sender.of(inbound.sender, inbound.profile_name, inbound.wa_id), phone_number,
                   whatsapp_sender)


def _batch_process(organization: Organization, limit: int) -> tuple[int, int]:
    """Claim up to `limit` due events and process them in one transaction. Returns (processed, claimed)."""
    with transaction.atomic():
        # One batch of an organization at a time: two drains of a busy organization would otherwise
        # touch the same conversations in different orders (a deadlock), and messages of one
        # conversation are stored in the order they came. Other organizations' drains go on.
        with connection.cursor() as cursor:
            cursor.execute("select pg_advisory_xact_lock(%s)", [_lock_key(organization)])
        events = list(_due(organization).order_by("received_at").select_for_update(skip_locked=True)[:limit])
        if not events:
            return 0, 0
        numbers = (PhoneNumber.objects.only("id", "organization_id", "agent_id")
                   .in_bulk({event.phone_number_id for event in events} - {None}))
        processed, parsed = [], []
        for event in events:
            number = numbers.get(event.phone_number_id)
            if number is None:
                processed.append(event)  # the number was removed meanwhile: nothing to file it under
                continue
            try:
                inbound = adapter_class(event.provider).inbound_message(event.payload)
                inbound.received_at = event.received_at
                parsed.append((event, Received.of(inbound, phone_number=number)))
            except Exception as exc:  # a payload its adapter cannot read: this event fails, alone
                _event_failed(event, exc)
        parsed, joined = _parts_joined(organization, parsed, {event.pk for event in events})
        try:
            with transaction.atomic():
                messages_receive(organization=organization, received=[received for _, received in parsed])
            processed += [event for event, _ in parsed]
            processed += [part for event, _ in parsed for part in joined.get(event.pk, ())]
        except Exception as exc:
            # One of them is bad, and a batch cannot say which: again one at a time, each in a
            # savepoint, so that only the bad one fails (and nothing it wrote is kept).
            logger.info("a batch of %d inbound events failed (%s); processing them one by one", len(parsed),
                        type(exc).__name__)
            for event, received in parsed:
                try:
                    with transaction.atomic():
                        messages_receive(organization=organization, received=[received])
                    processed.append(event)
                    processed += joined.get(event.pk, [])
                except Exception as alone:  # whatever it is, it must not stop the events after this one
                    _event_failed(event, alone)
        InboundEvent.objects.filter(pk__in=[event.pk for event in processed]).update(
            processed_at=timezone.now(), next_attempt_at=None)
    return len(processed), len(events)


# A long text delivered in parts (Inbound.part) is stored once all its parts are in, as one message;
# parts still missing after PART_WAIT are given up on, and what came is stored with a mark where each
# missing part goes. Meanwhile the parts wait, pending, and are looked at again every PART_RETRY.
PART_WAIT = timedelta(minutes=2)
PART_RETRY = timedelta(seconds=5)
PART_MISSING = "[…]"


def _parts_joined(organization: Organization, parsed: list, claimed: set) -> tuple[list, dict]:
    """`parsed` with every complete (or given-up) long text as one Received under its first part's
    event, and the parts still waiting left out (deferred). Returns (parsed, {first part's event id:
    the other parts' events}), those others to be marked processed with it."""
    whole = [(event, received) for event, received in parsed if received.inbound.part is None]
    groups: dict[tuple, list] = {}
    for event, received in parsed:
        if received.inbound.part is not None:
            groups.setdefault((event.phone_number_id, event.provider, received.inbound.part.group), []).append(
                (event, received))
    if not groups:
        return parsed, {}
    joined, waiting, now = {}, [], timezone.now()
    for (_number, provider, group), parts in groups.items():
        parts += _other_parts(organization, parts[0][1].phone_number, provider, group, claimed)
        by_number = {}
        for event, received in sorted(parts, key=lambda item: item[0].received_at):
            by_number.setdefault(received.inbound.part.number, (event, received))  # a repeated part once
        total = parts[0][1].inbound.part.total
        oldest = min(event.received_at for event, _ in parts)
        if len(by_number) < total and now - oldest < PART_WAIT:
            waiting += [event for event, _ in parts if event.pk in claimed]
            continue
        ordered = [by_number.get(n) for n in range(1, total + 1)]
        first_event, first = next(item for item in ordered if item is not None)
        body = "".join(item[1].inbound.body if item is not None else PART_MISSING for item in ordered)
        inbound = dataclasses.replace(first.inbound, body=body, part=None,
                                      media=[m for item in ordered if item is not None for m in item[1].inbound.media])
        whole.append((first_event, dataclasses.replace(first, inbound=inbound)))
        joined[first_event.pk] = [event for event, _ in parts if event.pk != first_event.pk]
    if waiting:
        InboundEvent.objects.filter(pk__in=[event.pk for event in waiting]).update(next_attempt_at=now + PART_RETRY)
    whole.sort(key=lambda item: item[0].received_at)
    return whole, joined


def _other_parts(organization: Organization, number: PhoneNumber, provider: str, group: str, claimed: set) -> list:
    """The pending events of the same number and vendor, outside this batch, that are parts of `group`
    (waiting for their siblings, or not due yet), locked like the batch's."""
    found = []
    others = (_pending(organization).filter(phone_number_id=number.pk, provider=provider)
              .exclude(pk__in=claimed).select_for_update(skip_locked=True)[:PARTS_LOOKED_AT])
    for event in others:
        try:
            inbound = adapter_class(provider).inbound_message(event.payload)
            if inbound.part is not None and inbound.part.group == group:
                inbound.received_at = event.received_at
                found.append((event, Received.of(inbound, phone_number=number)))
        except Exception:  # noqa: BLE001 - its own drain fails it, alone; here it is only not a part
            continue
    return found


PARTS_LOOKED_AT = 500  # pending events of one number looked through for a text's other parts


def _lock_key(organization: Organization) -> int:
    """A signed 64-bit key for the organization's drain lock (pg_advisory_xact_lock)."""
    return (organization.pk.int & (2**64 - 1)) - 2**63


OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN = {"START", "UNSTOP", "YES"}
PREVIEW_LONGEST = 200  # Conversation.last_message_preview


def messages_receive(*, organization: Organization, received: list[Received]) -> dict[str, object]:
    """Store inbound messages, each once, set-wise, in the caller's transaction. Returns the ids of
    the messages this call stored, by provider id (a provider id stored before is left as it was: a
    retry, or a concurrent duplicate). In order:

    contacts found or created (crm), conversations found or created (a new one is assigned to the
    number's agent), messages inserted with their sentiment, each conversation touched once (unread
    count, last message, reopened if done or snoozed), STOP/START keywords applied, and the inbox's
    counters raised once the transaction commits."""
    if not received:
        return {}
    contacts = contacts_for(organization=organization, senders=[item.sender for item in received])
    keys = [ConversationKey(contacts[item.sender.address].pk, item.inbound.channel,
                            getattr(item.phone_number, "pk", None), getattr(item.whatsapp_sender, "pk", None))
            for item in received]
    conversations = conversations_for(organization=organization, wanted={
        key: getattr(item.phone_number, "agent_id", None) for key, item in zip(keys, received, strict=True)})

    # Messages in the order they came: created_at one microsecond apart keeps the thread in that order.
    now = timezone.now()
    rows = [_message_row(item, conversations[key], now + timedelta(microseconds=index))
            for index, (key, item) in enumerate(zip(keys, received, strict=True))]
    inserted = _messages_insert(organization, rows)
    stored = {row["provider_sid"]: row["id"] for row in rows if row["id"] in inserted}
    if not stored:
        return stored

    # Each conversation once: how many new messages, and the latest one.
    touched: dict = {}
    for key, item, row in zip(keys, received, rows, strict=True):
        if row["id"] in inserted:
            count = touched.get(conversations[key], (0,))[0]
            touched[conversations[key]] = (count + 1, item.inbound.received_at or now, _preview(row))
    assignees = _conversations_touch(organization, touched=touched)

    for item, row in zip(received, rows, strict=True):
        if row["id"] in inserted:
            _keywords(contacts[item.sender.address], item.inbound)
    inbox_changed_many(organization, list(assignees.items()))
    embedding_request(organization.pk)  # search by meaning, later, on the bulk queue
    return stored


def _message_row(item: Received, conversation_id, created_at) -> dict:
    inbound = item.inbound
    media = [{"type": _media_type(part.get("content_type", "")), **part} for part in inbound.media]
    if inbound.channel == Channel.WHATSAPP:
        channel = MessageChannel.WHATSAPP
    else:
        channel = MessageChannel.MMS if media else MessageChannel.SMS
    return {"id": uuid7(), "conversation_id": conversation_id, "channel": channel.value, "body": inbound.body,
            "media": media, "media_type": media[0]["type"] if media else MediaType.NONE.value,
            "provider_sid": inbound.provider_sid, "created_at": created_at,
            # VADER's compound score, here rather than in a task per message: a fraction of a
            # millisecond each, and the inbox shows it with the message.
            "sentiment": message_sentiment(inbound.body) if inbound.body else None}


def _media_type(content_type: str) -> str:
    kind = (content_type or "").split("/")[0]
    if content_type == "image/webp":
        return MediaType.STICKER.value
    types = {"image": MediaType.IMAGE, "video": MediaType.VIDEO, "audio": MediaType.AUDIO}
    return types.get(kind, MediaType.DOCUMENT).value


def _preview(row: dict) -> str:
    text = row["body"] or (f"[{row['media_type']}]" if row["media"] else "")
    return text[:PREVIEW_LONGEST]


def _messages_insert(organization: Organization, rows: list[dict]) -> set:
    """One INSERT for every message; a provider id stored before inserts nothing (the unique index).
    Returns the ids of the messages inserted."""
    with connection.cursor() as cursor:
        cursor.execute("""
            insert into messaging_message (id, organization_id, conversation_id, direction, channel, body, media,
                                           media_type, status, provider_sid, error_code, error_message, sentiment,
                                           num_segments, attempts, created_at, updated_at)
            select m.id, %s, m.conversation_id, %s, m.channel, m.body, m.media, m.media_type, %s, m.provider_sid,
                   '', '', m.sentiment, 1, 0, m.created_at, m.created_at
              from jsonb_to_recordset(%s::jsonb) as m(id uuid, conversation_id uuid, channel text, body text,
                                                      media jsonb, media_type text, provider_sid text,
                                                      sentiment double precision, created_at timestamptz)
            on conflict (provider_sid) do nothing
            returning id""", [organization.pk, Direction.INBOUND.value, MessageStatus.RECEIVED.value,
                              json.dumps(rows, default=str)])
        return {message_id for (message_id,) in cursor.fetchall()}


def _conversations_touch(organization: Organization, *, touched: dict) -> dict:
    """Record new inbound messages on their conversations, one UPDATE for all of them: `touched` maps
    each conversation id to (new messages, when the latest was received, its preview). The unread
    count grows by the new messages (added in the database, so concurrent writers add up); the latest
    message is the last one; a done or snoozed conversation opens again. updated_at is when the row
    changed (the live inbox's cursor), not when the message was received: an event drained late must
    still count as a change after the tabs' cursors. Returns each conversation's assignee id."""
    rows = [{"id": conversation_id, "received": count, "at": at, "preview": preview}
            for conversation_id, (count, at, preview) in touched.items()]
    reopened = [ConversationStatus.DONE.value, ConversationStatus.SNOOZED.value]
    with connection.cursor() as cursor:
        cursor.execute("""
            update messaging_conversation as c
               set unread_count = c.unread_count + t.received, last_message_at = t.at, last_inbound_at = t.at,
                   last_message_preview = t.preview, updated_at = %s,
                   status = case when c.status = any(%s) then %s else c.status end,
                   snoozed_until = case when c.status = any(%s) then null else c.snoozed_until end
              from jsonb_to_recordset(%s::jsonb) as t(id uuid, received integer, at timestamptz, preview text)
             where c.id = t.id and c.organization_id = %s
            returning c.id, c.assignee_id""",
                       [timezone.now(), reopened, ConversationStatus.OPEN.value, reopened,
                        json.dumps(rows, default=str), organization.pk])
        return dict(cursor.fetchall())


def _keywords(contact: Contact, inbound: Inbound) -> None:
    word = inbound.body.strip().upper()
    if word in OPT_OUT and not contact.opted_out(inbound.channel):
        contact_set_opt_out(contact=contact, channel=inbound.channel, opted_out=True, source=word)
    elif word in OPT_IN and contact.opted_out(inbound.channel):
        contact_set_opt_out(contact=contact, channel=inbound.channel, opted_out=False, source=word)


def message_receive(*, organization: Organization, inbound: Inbound, phone_number=None,
                    whatsapp_sender=None) -> tuple[Message, bool]:
    """Store one inbound message at once (the WhatsApp Cloud API webhook, which builds its messages in
    the request): a batch of one. Returns (message, created); a provider id stored before returns
    the stored message. Side effects after commit."""
    with transaction.atomic():
        item = Received.of(inbound, phone_number=phone_number, whatsapp_sender=whatsapp_sender)
        created = bool(messages_receive(organization=organization, received=[item]))
    return Message.objects.get(organization=organization, provider_sid=inbound.provider_sid), created


# 4. A bad event fails alone ------------------------------------------------------------------------

ERROR_LONGEST = 2000


def _described(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"ValidationError: {' '.join(exc.messages)}"
    return f"{type(exc).__name__}: {exc}"


def _event_failed(event: InboundEvent, exc: Exception) -> None:
    """Record a failed attempt on the locked row: retry later (INBOUND_EVENT_RETRY_SECONDS, doubled
    after each failure), or after INBOUND_EVENT_ATTEMPTS set it aside for good, for an admin to see
    and retry (inbound_events_retry)."""
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

"""Search by meaning on the labelled set (tests/messaging/meaning_set.py): 216 messages in six groups and
three languages, stored and embedded as the product does. Each message is a query; recall@5 is the share
of the five best other messages that belong to its group. Hybrid must beat words alone, and meaning must
find far more than words do. The figures of each way of searching are in docs/benchmarks.md (issue 19,
`bench/bench_meaning.py`)."""

from __future__ import annotations

import pytest

from crm import services as crm_services
from messaging import search
from messaging.models import Message
from messaging.services import conversations, meaning
from tenants.scoping import tenant_scope
from tests.messaging.meaning_set import GROUPS, labelled

pytestmark = pytest.mark.django_db


def recall_at_5(org, mode: str, stored: dict) -> float:
    """Mean over the queries of (messages of the query's group among its best five others) / 5."""
    total = 0.0
    for message_id, (group, _, text) in stored.items():
        hits, _ = search.search(organization=org, text=text, mode=mode, limit=6)
        others = [hit.message.pk for hit in hits if hit.message.pk != message_id][:5]
        total += sum(1 for pk in others if stored[pk][0] == group) / 5
    return total / len(stored)


@pytest.fixture
def stored(org, our_number) -> dict:
    rows = {}
    with tenant_scope(org):
        for index, (group, language, text) in enumerate(labelled()):
            contact = crm_services.contact_for(organization=org, phone=f"+1415556{index:04d}")
            conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                          phone_number=our_number)
            message = Message.objects.create(organization=org, conversation=conversation, direction="inbound",
                                             channel="sms", body=text, status="received")
            rows[message.pk] = (group, language, text)
        meaning.messages_embed(organization=org)
    return rows


def test_the_set_is_what_it_says():
    items = labelled()
    assert len(items) >= 200 and {group for group, _, _ in items} == set(GROUPS)
    assert {language for _, language, _ in items} == {"en", "es", "pt"}
    assert len({text for _, _, text in items}) == len(items)


def test_hybrid_beats_words_alone_and_meaning_finds_what_words_miss(org, stored):
    with tenant_scope(org):
        words = recall_at_5(org, "words", stored)
        by_meaning = recall_at_5(org, "meaning", stored)
        both = recall_at_5(org, "both", stored)
    assert both > words
    assert by_meaning > 3 * words
    assert by_meaning > 0.3, by_meaning  # 0.2 would be chance with six groups of 36

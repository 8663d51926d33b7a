"""Search by words, by meaning, and both (issue 19): `GET /api/<slug>/search` and the inbox's "Search by",
on messages embedded by the offline model as the worker embeds them; another tenant's messages never
come back, whatever plan PostgreSQL chooses."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from crm import services as crm_services
from messaging import search
from messaging.models import CannedReply, Conversation, Message
from messaging.services import conversations, meaning
from tenants.scoping import tenant_scope
from tests.fakes.embeddings import FakeEmbeddings

pytestmark = pytest.mark.django_db

ACME_SAYS = [
    ("+14155550142", "My parcel still has not arrived, it was due on Monday"),
    ("+14155550143", "Can I pay with a credit card?"),
    ("+14155550144", "I would like to cancel my subscription please"),
    ("+14155550145", "Where is my order 1042? The delivery is late"),
]


def say(org, number, customer: str, body: str) -> Message:
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=customer)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=number)
        return Message.objects.create(organization=org, conversation=conversation, direction="inbound", channel="sms",
                                      body=body, status="received")


@pytest.fixture
def acme_messages(org, our_number):
    made = [say(org, our_number, customer, body) for customer, body in ACME_SAYS]
    with tenant_scope(org):
        meaning.messages_embed(organization=org)
    return made


def results(client, **params):
    answer = client.get("/api/acme/search", params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_meaning_finds_what_words_miss_and_both_marks_how_each_matched(agent_client, acme_messages):
    parcel, card, cancel, late = acme_messages
    by_words = results(agent_client, q="package never came", mode="words")
    assert by_words["results"] == []  # none of these words was written
    by_meaning = results(agent_client, q="my package never came", mode="meaning")
    found = [hit["message"]["id"] for hit in by_meaning["results"]]
    assert found[0] == str(parcel.pk)  # nearest first
    assert str(cancel.pk) not in found[:2]
    assert by_meaning["model"] == "wordllama/l2_supercat_256"
    assert all(hit["matchedBy"] == ["meaning"] and 0 <= hit["distance"] <= 0.9 for hit in by_meaning["results"])

    both = results(agent_client, q="delivery late")
    assert both["mode"] == "both"
    first = both["results"][0]
    assert first["message"]["id"] == str(late.pk) and first["matchedBy"] == ["words", "meaning"]
    assert first["conversation"]["contact"]["phoneNumber"] == "+14155550145"
    # Fused ranks: in both lists scores above any hit found one way only.
    assert first["score"] > max(hit["score"] for hit in both["results"][1:])


def test_bad_requests_say_what_is_wrong(agent_client, acme_messages):
    missing = agent_client.get("/api/acme/search")
    assert missing.status_code == 400 and missing.json() == {"q": ["Write what to search for."]}
    blank = agent_client.get("/api/acme/search", {"q": "   "})
    assert blank.status_code == 400 and blank.json() == {"q": ["Write what to search for."]}
    mode = agent_client.get("/api/acme/search", {"q": "x", "mode": "vibes"})
    assert mode.status_code == 400 and mode.json() == {"mode": ['"vibes" is not a mode: use meaning, words or both.']}
    assert agent_client.get("/api/acme/search", {"q": "x", "limit": "0"}).status_code == 400
    assert agent_client.get("/api/acme/search", {"q": "x" * 501}).status_code == 400


def test_an_embedder_that_fails_is_said_and_words_still_answer(agent_client, acme_messages, settings):
    fake = FakeEmbeddings(api_key="another-key")
    settings.EMBEDDINGS_URL = fake.start() + "/v1"
    settings.EMBEDDINGS_API_KEY = "sk-wrong"
    try:
        refused = agent_client.get("/api/acme/search", {"q": "cancel", "mode": "meaning"})
        assert refused.status_code == 503
        assert refused.json()["detail"].startswith("Search by meaning is unavailable: The embeddings API refused")
        assert "sk-wrong" not in refused.content.decode()
        both = results(agent_client, q="cancel")
        assert [hit["message"]["body"] for hit in both["results"]] == ["I would like to cancel my subscription please"]
        assert "refused the request (401" in both["meaningUnavailable"]
    finally:
        fake.stop()


def test_another_tenants_messages_never_come_back_whatever_the_plan(org, other_org, agent_client, acme_messages,
                                                                    globex_number):
    theirs = say(other_org, globex_number, "+14155550399", "My parcel still has not arrived, it was due on Monday")
    with tenant_scope(other_org):
        meaning.messages_embed(organization=other_org)
    found = results(agent_client, q="My parcel still has not arrived, it was due on Monday", mode="meaning")
    assert str(theirs.pk) not in {hit["message"]["id"] for hit in found["results"]}
    # The vector query alone, without the organization's condition, under each plan PostgreSQL could pick:
    # row-level security keeps it to the tenant in scope.
    embedder, vector = search.query_vector("my parcel has not arrived")
    expression = search.vector_expression(embedder.dimensions)
    for plan in ("set local enable_indexscan = on", "set local enable_indexscan = off"):
        with tenant_scope(org), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(plan)
            cursor.execute("set local enable_seqscan = " + ("off" if plan.endswith("on") else "on"))
            cursor.execute("set local hnsw.iterative_scan = relaxed_order")
            cursor.execute(f"select organization_id from messaging_message where embedding_model = %s "  # noqa: S608
                           f"order by {expression} <=> %s::vector({embedder.dimensions}) limit 50",
                           [embedder.name, search.vector_literal(vector, embedder.dimensions)])
            organizations = {row[0] for row in cursor.fetchall()}
        assert organizations == {org.pk}, plan


def test_the_vector_query_uses_the_models_index(org, acme_messages):
    """The query's ordering expression is the index's, so the index can serve it. With four rows the
    planner rightly sorts them instead; with the other ways made costly, only an index that matches the
    expression is left (at a million messages it is the plan taken: docs/benchmarks.md, issue 19)."""
    embedder, vector = search.query_vector("late delivery")
    with tenant_scope(org), transaction.atomic(), connection.cursor() as cursor:
        for way in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"set local enable_{way} = off")
        cursor.execute(f"explain select id from messaging_message where organization_id = %s and embedding_model = %s "  # noqa: S608
                       f"order by {search.vector_expression(embedder.dimensions, 'messaging_message.embedding')} "
                       f"<=> %s::vector({embedder.dimensions}) limit 20",
                       [org.pk, embedder.name, search.vector_literal(vector, embedder.dimensions)])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_meaning_wordllama_idx" in plan, plan


def test_the_inbox_searches_by_meaning_and_marks_the_rows(agent_client, acme_messages):
    page = agent_client.get("/o/acme/inbox/list/", {"q": "my package never came", "mode": "both", "view": "all"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "My parcel still has not arrived" in html and "By meaning" in html
    assert "by words and meaning, best first" in html
    words_only = agent_client.get("/o/acme/inbox/list/", {"q": "my package never came", "view": "all"})
    assert "My parcel still has not arrived" not in words_only.content.decode()
    bad = agent_client.get("/o/acme/inbox/list/", {"q": "x", "mode": "vibes", "view": "all"})
    assert bad.status_code == 400 and "Search by words, by meaning, or both." in bad.content.decode()


def reply(org, message: Message, body: str) -> Message:
    with tenant_scope(org):
        return Message.objects.create(organization=org, conversation=message.conversation, direction="outbound",
                                      channel="sms", body=body, status="delivered")


def test_suggested_replies_are_what_agents_answered_to_similar_messages(org, our_number, agent_client):
    past = say(org, our_number, "+14155550150", "My parcel has not arrived yet")
    reply(org, past, "Sorry about that! I have asked the courier; you will get a tracking link today.")
    other = say(org, our_number, "+14155550151", "I want to cancel my subscription")
    reply(org, other, "Your subscription is cancelled.")
    with tenant_scope(org):
        CannedReply.objects.create(organization=org, shortcut="late", title="Late parcel",
                                   body="We are sorry your parcel is late: we are on it.")
    now = say(org, our_number, "+14155550152", "where is my parcel? it has not arrived")
    with tenant_scope(org):
        meaning.messages_embed(organization=org)
    page = agent_client.get(f"/o/acme/inbox/c/{now.conversation_id}/suggestions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "you will get a tracking link today" in html
    assert "Your subscription is cancelled." not in html
    assert 'data-key="1"' in html
    with tenant_scope(org):
        suggestions = search.suggested_replies(organization=org, conversation=now.conversation,
                                               canned=list(CannedReply.objects.all()))
    assert suggestions[0].text.startswith("Sorry about that!") and suggestions[0].source == "reply"
    assert {s.source for s in suggestions} <= {"reply", "canned"}
    assert len({s.text for s in suggestions}) == len(suggestions)
    # Nothing was sent: the conversation has only the customer's message.
    with tenant_scope(org):
        assert list(Message.objects.filter(conversation=now.conversation).values_list("direction", flat=True)) == [
            "inbound"]


def test_similar_conversations_show_how_they_ended(org, our_number, agent_client):
    past = say(org, our_number, "+14155550160", "My parcel has not arrived yet")
    with tenant_scope(org):
        Conversation.objects.filter(pk=past.conversation_id).update(status="done")
    say(org, our_number, "+14155550161", "Can I pay with a credit card?")
    now = say(org, our_number, "+14155550162", "where is my parcel? it has not arrived")
    with tenant_scope(org):
        meaning.messages_embed(organization=org)
    html = agent_client.get(f"/o/acme/inbox/c/{now.conversation_id}/similar/").content.decode()
    assert "+14155550160" in html and "Done" in html and "My parcel has not arrived yet" in html
    assert "credit card" not in html
    # A conversation with nothing embedded yet says so.
    fresh = say(org, our_number, "+14155550163", "hello")
    empty = agent_client.get(f"/o/acme/inbox/c/{fresh.conversation_id}/similar/").content.decode()
    assert "None yet" in empty


@pytest.mark.parametrize("ratio", [0, 10**18])  # always the rarest word first; never
def test_words_find_the_same_messages_through_the_rarest_word_or_all_of_them(agent_client, org, our_number,
                                                                             monkeypatch, ratio):
    """A word far rarer than the others is looked up alone and its messages checked for the rest
    (search.words_matched): what the words find does not change."""
    has_all = say(org, our_number, "+14155550151", "I want to cancel my order 3310")
    plural = say(org, our_number, "+14155550152", "Cancelling both orders, I want a refund: 3310 and 12")
    say(org, our_number, "+14155550153", "I want to cancel my order 3311")  # another number
    say(org, our_number, "+14155550154", "Order 3310 arrived, thanks")  # not cancelled
    monkeypatch.setattr("messaging.search.RAREST_FIRST_RATIO", ratio)
    found = {hit["message"]["id"] for hit in results(agent_client, q="want cancel order 3310", mode="words")["results"]}
    assert found == {str(has_all.pk), str(plural.pk)}

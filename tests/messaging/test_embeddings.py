"""Message embeddings for search by meaning (issue 19): made by a worker after a message is stored, by
the offline model or an OpenAI-compatible API (the real adapter against a fake that follows OpenAI's
published contract), retried when the API is busy, recorded for the health page when it refuses, never
in the way of a message reaching the inbox; a backfill job embeds what exists, resumably."""

from __future__ import annotations

import math

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from crm import services as crm_services
from messaging import embedders, search
from messaging.models import Direction, Message
from messaging.services import conversations, meaning
from messaging.tasks import messages_embed_sweep
from tenants.models import Job
from tenants.scoping import tenant_scope
from tests.fakes.contracts import validate_openai
from tests.fakes.embeddings import KEY, FakeEmbeddings
from tests.vendor_fixtures import ACME_TOKEN

pytestmark = pytest.mark.django_db

LOCAL = "wordllama/l2_supercat_256"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    """Retries back off without sleeping here, and the health status starts clean."""
    monkeypatch.setattr(embedders.time, "sleep", lambda seconds: None)
    cache.delete(meaning.STATUS_KEY)
    yield
    cache.delete(meaning.STATUS_KEY)


@pytest.fixture
def api(settings):
    fake = FakeEmbeddings()
    settings.EMBEDDINGS_URL = fake.start() + "/v1"
    settings.EMBEDDINGS_API_KEY = KEY
    settings.EMBEDDINGS_MODEL = "text-embedding-3-small"
    yield fake
    fake.stop()


def stored_vector(org, message_id) -> list[float]:
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select embedding::text from messaging_message where id = %s", [message_id])
        return [float(v) for v in cursor.fetchone()[0].strip("[]").split(",")]


def conversation_of(org, number):
    contact = crm_services.contact_for(organization=org, phone="+14155550142")
    return conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)


def inbound(org, twilio_posts, body: str) -> Message:
    response, params = twilio_posts.inbound(ACME_TOKEN, body=body)
    assert response.status_code == 200
    with tenant_scope(org):
        return Message.objects.get(direction=Direction.INBOUND, provider_sid=params["MessageSid"])


def test_an_inbound_message_is_embedded_by_the_offline_model_after_it_is_stored(org, our_number, twilio_posts):
    message = inbound(org, twilio_posts, "Where is my package? It has not arrived")
    assert message.embedding_model == LOCAL and message.embedding_dimensions == 256 and message.embedded_at
    vector = stored_vector(org, message.pk)
    assert len(vector) == 256  # its model's own dimensions, not padded to 1536
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-4)
    # Near in meaning, nearer than an unrelated text (the model's own vectors, as stored).
    late, cancel = embedders.LocalEmbedder().embed(["the delivery is late", "I want to cancel my subscription"])
    assert sum(a * b for a, b in zip(vector, late, strict=False)) > sum(a * b for a, b in zip(vector, cancel, strict=False))


def test_an_api_embeds_as_its_contract_says_and_a_busy_api_is_tried_again(org, our_number, twilio_posts, api):
    api.fail_next(429, retry_after=2)
    api.fail_next(503)
    message = inbound(org, twilio_posts, "¿Dónde está mi pedido?")
    assert message.embedding_model == "openai/text-embedding-3-small" and message.embedding_dimensions == 1536
    assert stored_vector(org, message.pk) == pytest.approx(api.vector("¿Dónde está mi pedido?"), abs=1e-6)
    assert len(api.requests) == 3  # two refusals, then the answer
    for body in api.requests:
        validate_openai("CreateEmbeddingRequest", body)
        assert body == {"model": "text-embedding-3-small", "input": ["¿Dónde está mi pedido?"],
                        "encoding_format": "float"}


def test_the_fakes_answer_follows_the_contract(api):
    answer = requests.post(api.base_url + "/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", "b"]},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    validate_openai("CreateEmbeddingResponse", answer.json())
    refused = requests.post(api.base_url + "/v1/embeddings", json={"model": "x", "input": "a"}, timeout=5)
    assert refused.status_code == 401
    validate_openai("ErrorResponse", refused.json())


def test_a_refused_key_is_on_the_health_page_and_messages_still_arrive(org, our_number, twilio_posts, api,
                                                                       settings, client,
                                                                       django_capture_on_commit_callbacks):
    settings.EMBEDDINGS_API_KEY = "sk-wrong"
    message = inbound(org, twilio_posts, "my order never came")
    assert message.body == "my order never came" and message.embedding_model == ""  # in the inbox, waiting
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["embeddings"]["model"] == "openai/text-embedding-3-small"
    assert "refused the request (401: Incorrect API key provided.)" in health["embeddings"]["error"]
    assert "sk-wrong" not in str(health)
    # The key fixed, the sweep asks again and the waiting message is embedded; the error is gone.
    settings.EMBEDDINGS_API_KEY = KEY
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        messages_embed_sweep()
    with tenant_scope(org):
        assert Message.objects.get(pk=message.pk).embedding_model == "openai/text-embedding-3-small"
    assert client.get("/healthz").json()["embeddings"]["error"] == ""


def test_the_backfill_embeds_what_exists_resumes_and_re_embeds_after_a_model_change(org, our_number, settings, api):
    settings.EMBEDDINGS_URL = ""  # the offline model first
    with tenant_scope(org):
        conversation = conversation_of(org, our_number)
        ids = [Message.objects.create(organization=org, conversation=conversation, direction="inbound", channel="sms",
                                      body=f"message number {n}", status="received").pk for n in range(600)]
        Message.objects.create(organization=org, conversation=conversation, direction="inbound", channel="mms",
                               body="", status="received")  # nothing to embed
        call_command("embed_messages", organization=org.slug)
        assert set(Message.objects.filter(pk__in=ids).values_list("embedding_model", flat=True)) == {LOCAL}
        job = Job.objects.get(kind=meaning.EMBED_JOB)
        assert (job.status, job.total, job.done) == ("done", 600, 600)

        # The model changes: a job re-embeds every message, stopped half way and resumed.
        settings.EMBEDDINGS_URL = api.base_url + "/v1"
        job = meaning.embeddings_backfill_start(organization=org)
        assert job.total == 600
        job = meaning.embeddings_backfill_run(organization=org, job_id=job.pk, batches=2)
        assert job.status == "running" and job.done == 256  # two batches of 128
        assert meaning.embeddings_backfill_start(organization=org).pk == job.pk  # resumed, not doubled
        job = meaning.embeddings_backfill_run(organization=org, job_id=job.pk)
        assert (job.status, job.done) == ("done", 600)
        assert set(Message.objects.filter(pk__in=ids).values_list("embedding_model", flat=True)) == {
            "openai/text-embedding-3-small"}
        assert sum(len(body["input"]) for body in api.requests) == 600  # each message once
        # Run again: nothing left to do.
        again = meaning.embeddings_backfill_start(organization=org)
        assert again.total == 0
        assert meaning.embeddings_backfill_run(organization=org, job_id=again.pk).done == 0


def test_a_permanent_error_fails_the_backfill_with_its_reason(org, our_number, settings, api):
    settings.EMBEDDINGS_MODEL = "no-such-model"
    with tenant_scope(org):
        conversation = conversation_of(org, our_number)
        Message.objects.create(organization=org, conversation=conversation, direction="inbound", channel="sms",
                               body="hello", status="received")
        job = meaning.embeddings_backfill_run(organization=org,
                                              job_id=meaning.embeddings_backfill_start(organization=org).pk)
    assert job.status == "failed"
    assert "The model `no-such-model` does not exist." in job.errors[0]["error"]


@pytest.mark.django_db(transaction=True)
def test_migration_0016_trims_vectors_stored_padded_and_going_back_pads_them(org, our_number, twilio_posts):
    """Before 0016 a 256-dimension vector was stored zero-padded to 1536 (6 KB a message); 0016 trims
    it to its model's own dimensions, and searching finds it the same before and after."""
    from django.db.migrations.executor import MigrationExecutor

    message = inbound(org, twilio_posts, "Where is my package? It has not arrived")
    own = stored_vector(org, message.pk)
    assert len(own) == 256

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("messaging", target)])

    try:
        migrate("0015_conversation_words")
        padded = stored_vector(org, message.pk)
        assert len(padded) == 1536 and padded[:256] == own and not any(padded[256:])
        migrate("0016_embedding_own_dimensions")
        assert stored_vector(org, message.pk) == own
    finally:
        migrate("0016_embedding_own_dimensions")
    with tenant_scope(org):
        found = search.nearest(organization=org, model=LOCAL, dimensions=256, vector=own, limit=5)
    assert found[0][0] == message.pk and found[0][1] == pytest.approx(0, abs=1e-5)

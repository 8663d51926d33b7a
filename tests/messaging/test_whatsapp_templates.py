"""WhatsApp message templates: read from Meta (paged, daily and on demand), offered in a conversation
whose 24-hour window has closed, filled in with a preview, sent as Meta expects; paused, rejected and
other accounts' templates refused with the reason."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Conversation, Message, WhatsAppSender, WhatsAppTemplate
from messaging.services import outbound, policy
from messaging.services import templates as template_services
from messaging.tasks import whatsapp_templates_sync_all
from softphone.simulator.whatsapp import FakeWhatsApp
from tenants.scoping import tenant_scope

PHONE_NUMBER_ID = "106540352242922"
DISPLAY = "+14155550123"
WABA = "102290129340398"
ACCESS_TOKEN = "acme-wa-access-token"
CUSTOMER = "+16505551234"

pytestmark = pytest.mark.django_db


@pytest.fixture
def graph(settings):
    fake = FakeWhatsApp(access_token=ACCESS_TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = fake.start()
    fake.add_phone_number(PHONE_NUMBER_ID, DISPLAY)
    fake.attach_to_business_account(PHONE_NUMBER_ID, WABA)
    yield fake
    fake.stop()


@pytest.fixture
def sender(org):
    with tenant_scope(org):
        return WhatsAppSender.objects.create(
            organization=org, name="Acme WhatsApp", display_phone_number=DISPLAY, phone_number_id=PHONE_NUMBER_ID,
            business_account_id=WABA, access_token=ACCESS_TOKEN, app_secret="s", verify_token="acme-verify")


@pytest.fixture
def conversation(org, sender):
    """A WhatsApp conversation whose customer last wrote 30 hours ago: the window is closed."""
    from crm.services import contact_for
    from messaging.services.conversations import conversation_for

    with tenant_scope(org):
        contact = contact_for(organization=org, phone=CUSTOMER)
        found = conversation_for(organization=org, contact=contact, channel="whatsapp", whatsapp_sender=sender)
        Conversation.objects.filter(pk=found.pk).update(last_inbound_at=timezone.now() - timedelta(hours=30))
        return Conversation.objects.select_related("contact", "whatsapp_sender").get(pk=found.pk)


def sync(org, sender):
    with tenant_scope(org):
        return template_services.templates_sync(organization=org, sender=sender)


def templates_of(org) -> dict[str, WhatsAppTemplate]:
    with tenant_scope(org):
        return {t.name: t for t in WhatsAppTemplate.objects.all()}


def add_order_update(graph, **kwargs):
    return graph.add_template(WABA, name="order_update", body="Hello {{1}}, your order {{2}} is on its way.",
                              footer="Reply STOP to opt out", **kwargs)


def test_templates_are_read_page_by_page_with_what_the_composer_needs(org, sender, graph):
    add_order_update(graph)
    graph.add_template(WABA, name="welcome", language="es", body="Hola {{first_name}}", parameter_format="NAMED")
    graph.add_template(WABA, name="promo_photo", body="New in store", category="MARKETING",
                       header={"format": "IMAGE", "example": {"header_handle": ["https://x.example/h.jpg"]}})
    graph.add_template(WABA, name="login_code", body="{{1}} is your code", category="AUTHENTICATION")
    graph.add_template(WABA, name="titled", body="Hi {{1}}", header={"format": "TEXT", "text": "Order {{1}}"})
    graph.add_template(WABA, name="sale", body="Sale!", status="REJECTED", rejected_reason="INVALID_FORMAT")
    graph.add_template(WABA, name="quiet", body="Hi", status="PAUSED")
    for i in range(120):  # more than one page of 100
        graph.add_template(WABA, name=f"bulk_{i:03d}", body="Thanks")

    counts = sync(org, sender)

    assert counts == {"added": 127, "updated": 0, "removed": 0, "listed": 127}
    pages = [r for r in graph.requests if r.path.endswith("/message_templates")]
    assert len(pages) == 2 and pages[0].query["limit"] == "100" and "after" in pages[1].query
    found = templates_of(org)
    order = found["order_update"]
    assert (order.language, order.category, order.status, order.parameter_format) == ("en_US", "utility", "approved",
                                                                                       "positional")
    assert order.body == "Hello {{1}}, your order {{2}} is on its way." and order.footer == "Reply STOP to opt out"
    assert [(p["component"], p["name"]) for p in order.parameters] == [("body", "1"), ("body", "2")]
    assert order.sendable
    assert found["welcome"].parameter_format == "named" and found["welcome"].parameters[0]["name"] == "first_name"
    assert found["promo_photo"].unsupported == "Its header is a picture, which cannot be chosen here."
    assert "one-time codes" in found["login_code"].unsupported
    assert found["titled"].unsupported == "Its header and its body each have a variable of the same name."
    assert (found["sale"].status, found["sale"].status_reason) == ("rejected", "Invalid format")
    assert found["quiet"].status == "paused" and "paused" in found["quiet"].status_reason
    with tenant_scope(org):
        assert WhatsAppSender.objects.get(pk=sender.pk).templates_synced_at is not None


def test_a_later_sync_follows_meta_reviews_pauses_and_deletions(org, sender, graph):
    add_order_update(graph)
    graph.add_template(WABA, name="welcome", body="Hi there")
    sync(org, sender)
    graph.set_template_status(WABA, "order_update", "PAUSED")
    graph.remove_template(WABA, "welcome")
    graph.add_template(WABA, name="new_one", body="New")

    assert sync(org, sender) == {"added": 1, "updated": 1, "removed": 1, "listed": 2}
    found = templates_of(org)
    assert found["order_update"].status == "paused"
    assert (found["welcome"].status, found["welcome"].status_reason) == ("deleted", "No longer listed by the vendor.")


def test_a_sync_that_fails_changes_nothing_and_says_why_on_the_page(org, sender, graph, owner_client):
    add_order_update(graph)
    sync(org, sender)
    graph.access_token = "rotated-at-meta"
    with pytest.raises(outbound.ProviderError):
        sync(org, sender)
    assert templates_of(org)["order_update"].status == "approved"
    page = owner_client.get(f"/o/{org.slug}/whatsapp/templates/").content.decode()
    assert "The last reading failed: WhatsApp: Invalid OAuth access token" in page
    assert ACCESS_TOKEN not in page


def test_beat_reads_each_business_account_once_and_a_failing_one_does_not_stop_the_others(org, sender, graph,
                                                                                          other_org):
    add_order_update(graph)
    with tenant_scope(org):  # a second number of the same business account: read once, not twice
        WhatsAppSender.objects.create(organization=org, name="Acme 2", display_phone_number="+14155550124",
                                      phone_number_id="999", business_account_id=WABA, access_token=ACCESS_TOKEN,
                                      app_secret="s", verify_token="acme-verify-2")
    with tenant_scope(other_org):  # another tenant whose token Meta refuses
        WhatsAppSender.objects.create(organization=other_org, name="Globex", display_phone_number="+14155550199",
                                      phone_number_id="888", business_account_id="777", access_token="bad",
                                      app_secret="s", verify_token="globex-verify")
    whatsapp_templates_sync_all.apply(throw=True)
    assert set(templates_of(org)) == {"order_update"}
    assert len([r for r in graph.requests if r.path.endswith(f"/{WABA}/message_templates")]) == 1
    with tenant_scope(other_org):
        assert "Invalid OAuth access token" in WhatsAppSender.objects.get(phone_number_id="888").templates_error


def test_outside_the_window_free_text_is_refused_and_an_approved_template_goes(org, sender, graph, conversation,
                                                                               owner):
    add_order_update(graph)
    sync(org, sender)
    template = templates_of(org)["order_update"]
    with tenant_scope(org):
        refused = policy.may_send(conversation)
        assert refused.code == "whatsapp_window_closed"
        message = template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                                  template=template, values={"1": "Ann", "2": "#1042"})
        assert message.body == "Hello Ann, your order #1042 is on its way.\n\nReply STOP to opt out"
        assert outbound.message_deliver(organization=org, message_id=message.pk) == "sent"
        sent_message = Message.objects.get(pk=message.pk)
    assert sent_message.status == "queued" and sent_message.template_id == template.pk
    [sent] = graph.sent()
    assert sent["type"] == "template" and sent["to"] == CUSTOMER.lstrip("+")
    assert sent["template"] == {"name": "order_update", "language": {"code": "en_US"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Ann"}, {"type": "text", "text": "#1042"}]}]}


def test_named_variables_are_sent_with_their_names(org, sender, graph, conversation, owner):
    graph.add_template(WABA, name="welcome", language="es", body="Hola {{first_name}}, gracias por {{thing}}",
                       parameter_format="NAMED")
    sync(org, sender)
    with tenant_scope(org):
        message = template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                                  template=templates_of(org)["welcome"],
                                                  values={"first_name": "Ana", "thing": "su pedido"})
        outbound.message_deliver(organization=org, message_id=message.pk)
    assert graph.sent()[0]["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ana", "parameter_name": "first_name"},
        {"type": "text", "text": "su pedido", "parameter_name": "thing"}]


@pytest.mark.parametrize("status, says", [
    ("PAUSED", "The template “order_update” (en_US) is paused: Meta paused it after customers reported or blocked "
               "its messages. Only approved templates can be sent."),
    ("REJECTED", "The template “order_update” (en_US) is rejected: Invalid format. Only approved templates can be "
                 "sent."),
    ("PENDING", "The template “order_update” (en_US) is pending review. Only approved templates can be sent."),
])
def test_a_template_that_is_not_approved_is_refused_with_the_reason(org, sender, graph, conversation, owner, status,
                                                                    says):
    add_order_update(graph, status=status, rejected_reason="INVALID_FORMAT" if status == "REJECTED" else "NONE")
    sync(org, sender)
    with tenant_scope(org), pytest.raises(template_services.ValidationError) as refused:
        template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                        template=templates_of(org)["order_update"], values={"1": "a", "2": "b"})
    assert refused.value.messages == [says]
    with tenant_scope(org):
        assert not Message.objects.exists()
    assert graph.sent() == []


def test_a_template_paused_after_it_was_queued_fails_with_meta_s_reason_not_silently(org, sender, graph,
                                                                                    conversation, owner):
    add_order_update(graph)
    sync(org, sender)
    with tenant_scope(org):
        message = template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                                  template=templates_of(org)["order_update"],
                                                  values={"1": "a", "2": "b"})
    graph.set_template_status(WABA, "order_update", "PAUSED")  # Meta paused it before the worker sent it
    with tenant_scope(org):
        assert outbound.message_deliver(organization=org, message_id=message.pk) == "failed"
        failed = Message.objects.get(pk=message.pk)
    assert (failed.status, failed.error_code) == ("failed", "132015")
    assert failed.error_message == "Meta paused this template because of its quality; it cannot be sent now."


def test_values_are_checked_as_meta_checks_them(org, sender, graph, conversation, owner):
    add_order_update(graph)
    sync(org, sender)
    template = templates_of(org)["order_update"]
    for values, says in (({"1": "Ann"}, "Fill in {{2}}."),
                         ({"1": "Ann", "2": "line\nbreak"}, "{{2}} must be on one line"),
                         ({"1": "Ann", "2": "a      b"}, "more than four spaces"),
                         ({"1": "x" * 1001, "2": "b"}, "{{1}} can be at most 1000 characters.")):
        with tenant_scope(org), pytest.raises(template_services.ValidationError) as refused:
            template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                            template=template, values=values)
        assert says in " ".join(refused.value.messages)
    with tenant_scope(org):
        assert not Message.objects.exists()


def test_another_business_account_s_template_is_refused(org, sender, graph, conversation, owner):
    add_order_update(graph)
    sync(org, sender)
    with tenant_scope(org):
        WhatsAppTemplate.objects.filter(name="order_update").update(business_account_id="555")
        verdict = policy.may_send(conversation, template=WhatsAppTemplate.objects.get(name="order_update"))
    assert verdict.code == "template_elsewhere"


# The pages --------------------------------------------------------------------------------------------


def test_the_templates_page_shows_each_template_and_a_manager_syncs_it(org, sender, graph, owner_client,
                                                                       agent_client, django_capture_on_commit_callbacks):
    add_order_update(graph)
    graph.add_template(WABA, name="sale", body="<b>Sale</b>", status="REJECTED", rejected_reason="INVALID_FORMAT")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/o/{org.slug}/whatsapp/templates/sync/{sender.pk}/")
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert "Reading the templates of Acme WhatsApp" in page
    assert '<code>order_update</code>' in page and "Approved" in page
    assert 'your order <mark class="variable">{{2}}</mark> is on its way' in page
    assert "Rejected" in page and "Invalid format" in page
    assert "&lt;b&gt;Sale&lt;/b&gt;" in page and "<b>Sale</b>" not in page
    assert agent_client.post(f"/o/{org.slug}/whatsapp/templates/sync/{sender.pk}/").status_code == 403
    assert "order_update" in agent_client.get(f"/o/{org.slug}/whatsapp/templates/").content.decode()


def test_in_the_thread_the_window_and_the_templates_are_shown_and_one_is_sent(org, sender, graph, conversation,
                                                                              agent_client,
                                                                              django_capture_on_commit_callbacks):
    add_order_update(graph)
    graph.add_template(WABA, name="quiet", body="Hi", status="PAUSED")
    sync(org, sender)
    order = templates_of(org)["order_update"]
    base = f"/o/{org.slug}/inbox/c/{conversation.pk}/"
    thread = agent_client.get(base, HTTP_HX_REQUEST="true").content.decode()
    assert "WhatsApp window closed" in thread and "only templates can be sent" in thread
    assert re.search(r'<details id="template-picker" class="template-picker" open>', thread)
    assert f'<option value="{order.pk}">order_update (en_US)</option>' in thread
    assert "Not offered: quiet (en_US), paused" in thread

    form = agent_client.get(base + "template/", {"template": order.pk}).content.decode()
    assert 'name="v_1"' in form and 'name="v_2"' in form and "e.g. &lt;1&gt;" in form
    preview = agent_client.get(base + "template/", {"template": order.pk, "preview": "1", "v_1": "Ann"}).content.decode()
    assert 'Hello Ann, your order <mark class="variable">{{2}}</mark> is on its way.' in preview

    missing = agent_client.post(base + "template/", {"template": order.pk, "v_1": "Ann"})
    assert missing.status_code == 400 and missing.content.decode() == "Fill in {{2}}."
    with django_capture_on_commit_callbacks(execute=True):
        sent = agent_client.post(base + "template/", {"template": order.pk, "v_1": "Ann", "v_2": "#1042"})
    assert sent.status_code == 201 and "Hello Ann, your order" in sent.content.decode()
    assert graph.sent()[0]["template"]["name"] == "order_update"


def test_a_template_id_of_another_organization_is_refused(org, sender, graph, conversation, agent_client, other_org):
    with tenant_scope(other_org):
        theirs = WhatsAppTemplate.objects.create(
            organization=other_org, provider="whatsapp_cloud", business_account_id=WABA, external_id="x",
            name="theirs", language="en", status="approved", body="Hi", synced_at=timezone.now())
    response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/template/", {"template": theirs.pk})
    assert response.status_code == 400
    assert response.content.decode() == "That is not one of this organization's templates."
    assert graph.sent() == []


def test_the_api_sends_a_template_and_says_why_it_refuses_one(org, sender, graph, conversation, owner_client,
                                                              django_capture_on_commit_callbacks):
    add_order_update(graph)
    graph.add_template(WABA, name="quiet", body="Hi", status="PAUSED")
    sync(org, sender)
    found = templates_of(org)
    url = f"/api/{org.slug}/conversations/{conversation.pk}/messages"
    text = owner_client.post(url, {"body": "hello?"}, content_type="application/json")
    assert text.status_code == 400 and "only an approved template can be sent now" in text.content.decode()
    paused = owner_client.post(url, {"templateId": str(found["quiet"].pk)}, content_type="application/json")
    assert paused.status_code == 400 and "is paused" in paused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = owner_client.post(url, {"templateId": str(found["order_update"].pk),
                                       "templateValues": {"1": "Ann", "2": "#7"}}, content_type="application/json")
    assert sent.status_code == 202, sent.content
    assert sent.json()["body"].startswith("Hello Ann, your order #7")
    assert graph.sent()[0]["template"]["components"][0]["parameters"][1] == {"type": "text", "text": "#7"}


def test_through_twilio_templates_are_read_from_its_content_api_and_sent_by_content_sid(org, our_number, twilio,
                                                                                         twilio_account, owner):
    """A Twilio account's WhatsApp templates come from its Content API (GET /v1/ContentAndApprovals,
    every page); one is sent by its Content SID with the values as a JSON object (the 2010 contract's
    ContentSid and ContentVariables)."""
    from crm.services import contact_for
    from messaging.services.conversations import conversation_for
    from tests.vendor_fixtures import ACME_SID

    order = twilio.add_content(ACME_SID, friendly_name="order_update", body="Hello {{1}}, order {{2}} shipped.",
                               variables={"1": "Ann", "2": "1042"})
    twilio.add_content(ACME_SID, friendly_name="promo", body="Sale", status="rejected",
                       rejection_reason="Marketing content in a utility template", content_type="twilio/quick-reply",
                       extra={"actions": [{"title": "Yes", "id": "yes"}]})
    twilio.add_content(ACME_SID, friendly_name="catalogue", body="See our cards", content_type="twilio/card")
    twilio.add_content(ACME_SID, friendly_name="draft", body="Draft", status="unsubmitted")
    for i in range(110):  # more than a page of 100
        twilio.add_content(ACME_SID, friendly_name=f"bulk_{i:03d}", body="Thanks")
    with tenant_scope(org):
        counts = template_services.twilio_templates_sync(organization=org, account=twilio_account)
    assert counts == {"added": 114, "updated": 0, "removed": 0, "listed": 114}
    assert len([r for r in twilio.requests if r.path == "/v1/ContentAndApprovals"]) == 2
    found = templates_of(org)
    assert found["order_update"].sendable and found["order_update"].external_id == order["sid"]
    assert [(p["name"], p["example"]) for p in found["order_update"].parameters] == [("1", "Ann"), ("2", "1042")]
    assert (found["promo"].status, found["promo"].status_reason) == ("rejected",
                                                                     "Marketing content in a utility template")
    assert "card template" in found["catalogue"].unsupported
    assert (found["draft"].status, found["draft"].status_reason) == ("unknown", "Not submitted to WhatsApp for approval.")

    with tenant_scope(org):
        contact = contact_for(organization=org, phone=CUSTOMER)
        conversation = conversation_for(organization=org, contact=contact, channel="whatsapp", phone_number=our_number)
        assert policy.may_send(conversation).code == "whatsapp_window_closed"
        assert policy.may_send(conversation, template=found["promo"]).code == "template_rejected"
        message = template_services.template_send(organization=org, actor=owner, conversation=conversation,
                                                  template=found["order_update"], values={"1": "Ann", "2": "#7"})
        assert outbound.message_deliver(organization=org, message_id=message.pk) == "sent"
    [sent] = twilio.messages(ACME_SID)
    assert (sent["to"], sent["from"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{our_number.phone_number}")
    [request] = [r for r in twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
    assert request.form["ContentSid"] == order["sid"]
    assert json.loads(request.form["ContentVariables"]) == {"1": "Ann", "2": "#7"}
    assert "Body" not in request.form


def test_a_twilio_next_page_link_elsewhere_is_refused_not_followed_with_the_credentials(org, twilio, twilio_account,
                                                                                        settings):
    """The SDK follows the next-page link Twilio answers with; our HTTP client lets it reach only
    Twilio's configured hosts, so a link elsewhere fails the sync rather than carry the auth token."""
    from messaging.providers.twilio import TwilioMessaging
    from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

    twilio.add_content(ACME_SID, friendly_name="a", body="A")
    twilio.add_content(ACME_SID, friendly_name="b", body="B")
    original = twilio._list_contents

    def elsewhere(account_sid, params):
        response = original(account_sid, {**params, "PageSize": "1"})
        body = json.loads(response.body)
        body["meta"]["next_page_url"] = "https://attacker.example/v1/ContentAndApprovals?Page=1"
        return type(response)(response.status, json.dumps(body).encode(), response.headers)

    twilio._list_contents = elsewhere
    with pytest.raises(outbound.ProviderError) as refused:
        TwilioMessaging(account_sid=ACME_SID, auth_token=ACME_TOKEN).templates()
    assert "outside Twilio's API" in refused.value.message
    assert not any("attacker" in r.path for r in twilio.requests)

"""Phone numbers: add one, import many (a resumable background job), buy, rename, remove, and keep
their webhooks pointed at us."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.phones import describe, to_e164
from core.vendors import ProviderError
from telephony import providers
from telephony.lines import lines_changed
from telephony.models import (
    NumberStatus,
    PhoneNumber,
    PlatformState,
    Provider,
    ProviderAccount,
    WebhookMode,
)
from telephony.providers.base import IncomingNumber, NumberPage, WebhookUrls
from tenants.models import Job, JobStatus, Organization
from tenants.services import audit, audit_many

logger = logging.getLogger(__name__)

IMPORT_JOB = "phone_numbers.import"


# The addresses Twilio calls. They are a contract with every number we configure, so they are fixed
# here rather than derived from the URL configuration.
WEBHOOK_PATHS = {
    "sms_url": "/webhooks/twilio/messages/",
    "status_callback": "/webhooks/twilio/messages/status/",
    "voice_url": "/webhooks/twilio/voice/inbound/",
}


def webhook_urls() -> WebhookUrls:
    base = settings.PUBLIC_BASE_URL
    return WebhookUrls(**{name: base + path for name, path in WEBHOOK_PATHS.items()})


def _takes_voice(number: PhoneNumber) -> bool:
    """A number on VAPI has VAPI's voice URL; we own only its SMS and status URLs then."""
    return not number.platform_id


def drift_of(number: PhoneNumber, remote: IncomingNumber, account: ProviderAccount) -> str:
    """What the provider has that we did not set ('' when all is as we left it)."""
    if account.webhook_mode == WebhookMode.GLOBAL:
        return ""
    ours = webhook_urls()
    problems = []
    if remote.sms_url != ours.sms_url:
        problems.append(f"SMS URL is {remote.sms_url or 'empty'}")
    if remote.status_callback != ours.status_callback:
        problems.append(f"status callback is {remote.status_callback or 'empty'}")
    if _takes_voice(number) and remote.voice_url != ours.voice_url:
        problems.append(f"voice URL is {remote.voice_url or 'empty'}")
    return "; ".join(problems)


def _attrs_from_remote(remote: IncomingNumber, phone_number: str, *, geocode: bool = False) -> dict:
    metadata = describe(phone_number, geocode=geocode)
    metadata.update({k: v for k, v in remote.metadata.items() if k in ("origin", "address_requirements")})
    return {
        "provider_sid": remote.sid,
        "friendly_name": (remote.friendly_name or "")[:100],
        "capabilities": remote.capabilities.as_dict(),
        "metadata": metadata,
    }


# Add one number (REST POST with credentials) --------------------------------------------------------


def phone_number_add(*, organization: Organization, actor, provider: str, phone_number: str,
                     account_sid: str, auth_token: str, friendly_name: str = "", metadata: dict | None = None,
                     client=None) -> PhoneNumber:
    """Add one number the organization owns at the provider, with that account's credentials.

    The account is connected on first use (credentials verified first); the number must exist in
    it. Its webhooks are pointed at us by a worker after commit.
    """
    from .accounts import provider_account_connect

    if provider != Provider.TWILIO:
        raise ValidationError({"provider": "Only Twilio numbers can be added for now."})
    e164 = to_e164(phone_number)
    if PhoneNumber.objects.filter(organization=organization, phone_number=e164).exists():
        raise ValidationError({"phone_number": f"{e164} is already in this organization."})
    account = ProviderAccount.objects.filter(organization=organization, provider=provider,
                                             account_sid=(account_sid or "").strip()).first()
    if account is None:
        account = provider_account_connect(organization=organization, actor=actor, provider=provider,
                                           account_sid=account_sid, auth_token=auth_token, client=client)
    elif auth_token and auth_token != account.auth_token:
        raise ValidationError({"auth_token": "That is not the auth token this account was connected with."})
    try:
        remote = providers.for_account(account).find_incoming_number(e164)
    except ProviderError as exc:
        raise ValidationError({"credentials": exc.message}) from None
    if remote is None:
        raise ValidationError({"phone_number": f"{e164} is not a number of this Twilio account."})
    attrs = _attrs_from_remote(remote, e164)
    attrs["metadata"].update(metadata or {})
    if friendly_name:
        attrs["friendly_name"] = friendly_name[:100]
    with transaction.atomic():
        number = _create_number(organization=organization, account=account, phone_number=e164, client=client,
                                source="added", attrs=attrs, previous_sms_url=remote.sms_url,
                                previous_voice_url=remote.voice_url)
        audit(organization=organization, actor=actor, verb="phone_number.added", target=number,
              data={"account": account.friendly_name})
        _configure_after_commit(organization, number)
    return number


def _create_number(*, organization, account, phone_number, client, source, attrs, previous_sms_url="",
                   previous_voice_url="") -> PhoneNumber:
    try:
        with transaction.atomic():
            return PhoneNumber.objects.create(
                organization=organization, provider_account=account, provider=account.provider,
                phone_number=phone_number, client=client or account.client, source=source,
                previous_sms_url=previous_sms_url[:500], previous_voice_url=previous_voice_url[:500],
                last_verified_at=timezone.now(), **attrs,
            )
    except IntegrityError:
        raise ValidationError(
            {"phone_number": f"{phone_number} is already connected to another organization."}
        ) from None


def _configure_after_commit(organization, number) -> None:
    from telephony.tasks import phone_number_configure

    transaction.on_commit(lambda: phone_number_configure.delay(organization_id=str(organization.pk),
                                                               phone_number_id=str(number.pk)))


def phone_number_configure(*, organization: Organization, number: PhoneNumber, actor=None,
                           geocode: bool = False) -> PhoneNumber:
    """Point the number's SMS, status-callback and (unless on VAPI) voice URLs at our webhooks;
    workers also fill in the number's region (``geocode``)."""
    account = number.provider_account
    if account.webhook_mode == WebhookMode.GLOBAL:
        return number
    ours = webhook_urls()
    try:
        remote = providers.for_account(account).configure_webhooks(number.provider_sid, ours,
                                                                   voice=_takes_voice(number))
    except ProviderError as exc:
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            webhook_drift=f"Could not set our webhooks: {exc.message}", updated_at=timezone.now())
        raise
    fields = {"webhook_configured": True, "sms_url": ours.sms_url, "status_callback_url": ours.status_callback,
              "webhook_drift": "", "last_verified_at": timezone.now(), "updated_at": timezone.now()}
    if _takes_voice(number):
        fields["voice_url"] = ours.voice_url
    fields["capabilities"] = remote.capabilities.as_dict()
    if geocode and "region" not in number.metadata:
        fields["metadata"] = {**describe(number.phone_number, geocode=True), **number.metadata}
    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(**fields)
    audit(organization=organization, actor=actor, verb="phone_number.webhooks_configured", target=number,
          data={"voice": _takes_voice(number)})
    number.refresh_from_db()
    return number


# Import many (background job) -------------------------------------------------------------------


def phone_number_import_start(*, organization: Organization, actor, account: ProviderAccount,
                              numbers: list[str] | str) -> Job:
    """Start importing the account's numbers: ``"all"`` or a list of E.164 numbers."""
    if account.provider != Provider.TWILIO:
        raise ValidationError({"provider_account_id": "Numbers are imported from a Twilio account."})
    if numbers == "all":
        selected = None
    elif isinstance(numbers, list) and numbers:
        selected = sorted({to_e164(n, field="numbers") for n in numbers})
    else:
        raise ValidationError({"numbers": 'Send a list of numbers, or "all".'})
    with transaction.atomic():
        job = Job.objects.create(
            organization=organization, kind=IMPORT_JOB, created_by=actor,
            params={"provider_account_id": str(account.pk), "numbers": selected, "phase": "list"},
            total=len(selected) if selected else None,
        )
        audit(organization=organization, actor=actor, verb="phone_numbers.import_started", target=account,
              data={"job": str(job.pk), "numbers": "all" if selected is None else len(selected)})
        from telephony.tasks import phone_numbers_import

        transaction.on_commit(lambda: phone_numbers_import.delay(organization_id=str(organization.pk),
                                                                 job_id=str(job.pk)))
    return job


def _claim_job(organization, job_id) -> Job | None:
    """Mark the job running (or resume it); None if it already finished."""
    now = timezone.now()
    updated = Job.objects.filter(organization=organization, pk=job_id,
                                 status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING, heartbeat_at=now, started_at=now)
    return Job.objects.get(organization=organization, pk=job_id) if updated else None


def phone_numbers_import_run(*, organization: Organization, job_id) -> Job | None:
    """Run (or resume) an import job. Phase 1 lists the account's numbers page by page, creating
    missing rows (the cursor is saved after every page); phase 2 points the webhooks of the rows
    that are not yet ours at us, a batch at a time. Both phases are idempotent."""
    job = _claim_job(organization, job_id)
    if job is None:
        return None
    account = ProviderAccount.objects.get(organization=organization, pk=job.params["provider_account_id"])
    adapter = providers.for_account(account)
    selected = set(job.params["numbers"]) if job.params.get("numbers") else None
    if job.params.get("phase") == "list":
        _import_list_phase(organization, job, account, adapter, selected)
    _import_configure_phase(organization, job, account, adapter, selected)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now())
    job.refresh_from_db()
    audit(organization=organization, actor=job.created_by, verb="phone_numbers.import_finished", target=account,
          data={"job": str(job.pk), "created": job.created_count, "total": job.total, "errors": len(job.errors)})
    return job


def _import_list_phase(organization, job, account, adapter, selected) -> None:
    cursor = job.cursor or None
    seen = job.params.get("seen", 0)
    while True:
        page = adapter.incoming_numbers_page(cursor, page_size=100)
        wanted = [n for n in page.numbers if selected is None or n.phone_number in selected]
        created, errors = _upsert_page(organization, account, wanted, job)
        seen += len(wanted)
        cursor = page.next_cursor
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            locked.cursor = cursor or ""
            locked.created_count = F("created_count") + created
            locked.errors = (locked.errors + errors)[:500]
            locked.params = {**locked.params, "seen": seen, "phase": "list" if cursor else "configure"}
            if selected is None:
                locked.total = seen
            locked.heartbeat_at = timezone.now()
            locked.save()
        if not cursor:
            break
    if selected is not None:
        missing = selected - set(PhoneNumber.objects.filter(organization=organization, provider_account=account,
                                                            phone_number__in=selected).values_list("phone_number",
                                                                                                   flat=True))
        if missing:
            job.refresh_from_db()
            errors = [{"item": n, "error": "Not a number of this Twilio account."} for n in sorted(missing)]
            Job.objects.filter(pk=job.pk).update(errors=(job.errors + errors)[:500],
                                                 params={**job.params, "missing": len(missing)})
    job.refresh_from_db()


def _upsert_page(organization, account, remotes: list[IncomingNumber], job) -> tuple[int, list[dict]]:
    """Create the numbers we do not have yet; refresh the ones we have. Returns (created, errors)."""
    if not remotes:
        return 0, []
    ours = {n.phone_number: n for n in PhoneNumber.objects.filter(
        organization=organization, phone_number__in=[r.phone_number for r in remotes])}
    new, errors = [], []
    now = timezone.now()
    for remote in remotes:
        try:
            e164 = to_e164(remote.phone_number)
        except ValidationError:
            errors.append({"item": remote.phone_number, "error": "Not a valid E.164 number."})
            continue
        attrs = _attrs_from_remote(remote, e164, geocode=True)  # runs in a worker
        existing = ours.get(e164)
        if existing is not None:
            if existing.provider_account_id != account.pk:
                errors.append({"item": e164, "error": "Already imported from another account."})
            continue
        already_ours = drift_of(PhoneNumber(), remote, account) == ""
        new.append(PhoneNumber(
            organization=organization, provider_account=account, provider=account.provider, phone_number=e164,
            client=account.client, source="imported", previous_sms_url=remote.sms_url[:500],
            previous_voice_url=remote.voice_url[:500], last_verified_at=now,
            webhook_configured=already_ours, **attrs,
        ))
    created = 0
    if new:
        PhoneNumber.objects.bulk_create(new, ignore_conflicts=True)
        stored_rows = list(PhoneNumber.objects.filter(
            organization=organization, phone_number__in=[n.phone_number for n in new], created_at__gte=now))
        stored = {n.phone_number for n in stored_rows}
        created = len(stored)
        audit_many(organization=organization, actor=job.created_by, verb="phone_number.imported",
                   targets=stored_rows, data={"job": str(job.pk), "account": account.friendly_name})
        errors += [{"item": n.phone_number, "error": "Already connected to another organization."}
                   for n in new if n.phone_number not in stored]
    return created, errors


def _import_configure_phase(organization, job, account, adapter, selected) -> None:
    pending = PhoneNumber.objects.filter(organization=organization, provider_account=account,
                                         status=NumberStatus.ACTIVE)
    if selected is not None:
        pending = pending.filter(phone_number__in=selected)
    total_in_scope = pending.count()
    if account.webhook_mode == WebhookMode.GLOBAL:
        Job.objects.filter(pk=job.pk).update(done=job.params.get("missing", 0) + total_in_scope,
                                             heartbeat_at=timezone.now())
        return
    ours = webhook_urls()
    # Progress restarts from what is already true, so a resumed job counts nothing twice.
    already = total_in_scope - pending.filter(webhook_configured=False).count()
    Job.objects.filter(pk=job.pk).update(done=job.params.get("missing", 0) + already, heartbeat_at=timezone.now())
    workers = max(1, settings.NUMBER_IMPORT_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="number-import") as pool:
        while True:
            batch = list(pending.filter(webhook_configured=False).order_by("phone_number")[:100])
            if not batch:
                break
            results = list(pool.map(lambda n: _configure_one(adapter, n, ours), batch))
            configured = [n.pk for n, error in zip(batch, results, strict=True) if error is None]
            failed = [(n, error) for n, error in zip(batch, results, strict=True) if error is not None]
            now = timezone.now()
            with transaction.atomic():
                PhoneNumber.objects.filter(organization=organization, pk__in=configured).update(
                    webhook_configured=True, sms_url=ours.sms_url, status_callback_url=ours.status_callback,
                    webhook_drift="", last_verified_at=now, updated_at=now)
                PhoneNumber.objects.filter(organization=organization, pk__in=configured, platform_id="").update(
                    voice_url=ours.voice_url)
                for number, error in failed:
                    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                        status=NumberStatus.ERROR, status_reason=error, updated_at=now)
                locked = Job.objects.select_for_update().get(pk=job.pk)
                locked.done = F("done") + len(batch)
                locked.errors = (locked.errors + [{"item": n.phone_number, "error": e} for n, e in failed])[:500]
                locked.heartbeat_at = now
                locked.save()


def _configure_one(adapter, number: PhoneNumber, ours: WebhookUrls) -> str | None:
    """Runs in a pool thread: vendor I/O only, no database."""
    try:
        adapter.configure_webhooks(number.provider_sid, ours, voice=_takes_voice(number))
    except ProviderError as exc:
        return exc.message
    return None


def import_jobs_stalled(*, organization: Organization, older_than: timedelta = timedelta(minutes=5)):
    return Job.objects.filter(organization=organization, kind=IMPORT_JOB, status=JobStatus.RUNNING,
                              heartbeat_at__lt=timezone.now() - older_than)


def job_fail(*, organization: Organization, job_id, reason: str) -> None:
    Job.objects.filter(organization=organization, pk=job_id).update(
        status=JobStatus.FAILED, finished_at=timezone.now(),
        errors=[{"item": "", "error": reason}])


# Reads from the provider (one call each; a page never waits for more) ---------------------------


def available_numbers_search(*, account: ProviderAccount | None = None, account_sid: str = "",
                             auth_token: str = "", country: str = "US", number_type: str = "local",
                             area_code: str = "", contains: str = "", capabilities: tuple[str, ...] = ()):
    """Numbers the provider offers, with a stored account or with credentials given once."""
    adapter = (providers.for_account(account) if account is not None
               else providers.for_credentials(Provider.TWILIO, account_sid=account_sid, auth_token=auth_token))
    try:
        return adapter.search_available(country=country, number_type=number_type, area_code=area_code or "",
                                        contains=contains or "", capabilities=capabilities)
    except ProviderError as exc:
        raise ValidationError(exc.message) from None


# The import page's "next page" links carry the provider's cursor inside a token we sign, bound to
# the organization and the account: a link cannot point the account's credentials at another URL,
# nor show one organization's (or account's) numbers with another's. Tokens last a day.
PAGE_TOKEN_SALT = "telephony.number-import-page"
PAGE_TOKEN_SECONDS = 24 * 3600


class InvalidPageToken(ValidationError):
    """A page link we did not issue for this account (changed, expired, or another account's)."""


def _page_token(account: ProviderAccount, cursor: str) -> str:
    return signing.dumps({"org": str(account.organization_id), "account": str(account.pk), "cursor": cursor},
                         salt=PAGE_TOKEN_SALT, compress=True)


def _page_cursor(account: ProviderAccount, token: str) -> str:
    try:
        value = signing.loads(token, salt=PAGE_TOKEN_SALT, max_age=PAGE_TOKEN_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        value = None
    if (not isinstance(value, dict) or value.get("org") != str(account.organization_id)
            or value.get("account") != str(account.pk) or not isinstance(value.get("cursor"), str)):
        raise InvalidPageToken("This page link is not valid for this account (it was changed, has expired, or "
                               "belongs to another account). Start again from the first page.")
    return value["cursor"]


def account_numbers_page(*, account: ProviderAccount, page_token: str | None = None) -> NumberPage:
    """One page of the numbers the account owns at the provider, for choosing what to import.

    ``page_token`` is the ``next_cursor`` of the page before, as returned here: a token we signed,
    never a URL. A token we did not issue for this account raises ``InvalidPageToken``."""
    cursor = _page_cursor(account, page_token) if page_token else None
    try:
        page = providers.for_account(account).incoming_numbers_page(cursor, page_size=100)
    except ProviderError as exc:
        raise ValidationError(exc.message) from None
    next_token = _page_token(account, page.next_cursor) if page.next_cursor else None
    return dataclasses.replace(page, next_cursor=next_token)


# Buy --------------------------------------------------------------------------------------------


def phone_number_buy(*, organization: Organization, actor, account: ProviderAccount, phone_number: str,
                     client=None) -> PhoneNumber:
    """Buy an available number (one call, which also sets our webhooks) and add it."""
    e164 = to_e164(phone_number)
    ours = webhook_urls() if account.webhook_mode == WebhookMode.PER_NUMBER else None
    try:
        remote = providers.for_account(account).buy_number(e164, ours)
    except ProviderError as exc:
        raise ValidationError({"phone_number": exc.message}) from None
    attrs = _attrs_from_remote(remote, e164)
    with transaction.atomic():
        # A bought number had no URLs before ours.
        number = _create_number(organization=organization, account=account, phone_number=e164, client=client,
                                source="bought", attrs=attrs)
        if ours is not None:
            PhoneNumber.objects.filter(pk=number.pk).update(
                webhook_configured=True, sms_url=ours.sms_url, status_callback_url=ours.status_callback,
                voice_url=ours.voice_url)
        audit(organization=organization, actor=actor, verb="phone_number.bought", target=number,
              data={"account": account.friendly_name})
    number.refresh_from_db()
    return number


# Rename, repair, remove ---------------------------------------------------------------------------


@transaction.atomic
def phone_number_update(*, organization: Organization, actor, number: PhoneNumber, friendly_name: str) -> PhoneNumber:
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    if locked.friendly_name != friendly_name:
        previous = locked.friendly_name
        locked.friendly_name = friendly_name[:100]
        locked.save(update_fields=["friendly_name", "updated_at"])
        audit(organization=organization, actor=actor, verb="phone_number.renamed", target=locked,
              data={"from": previous, "to": locked.friendly_name})
    return locked


def phone_number_repair_webhooks(*, organization: Organization, actor, number: PhoneNumber) -> PhoneNumber:
    try:
        return phone_number_configure(organization=organization, number=number, actor=actor)
    except ProviderError as exc:
        if exc.gone:
            phone_number_mark_released(organization, number, actor)
            raise ValidationError("This number is no longer in the Twilio account (released); it is now "
                                  "inactive.") from None
        raise ValidationError(exc.message) from None


def phone_number_mark_released(organization: Organization, number: PhoneNumber, actor) -> None:
    with transaction.atomic():
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            status=NumberStatus.INACTIVE, status_reason="Released in Twilio (no longer in the account).",
            webhook_configured=False, updated_at=timezone.now())
        audit(organization=organization, actor=actor, verb="phone_number.released_at_provider", target=number)
        lines_changed(number.provider_account.account_sid)


@transaction.atomic
def phone_number_remove(*, organization: Organization, actor, number: PhoneNumber) -> None:
    """Remove the number from Softphone. If it is on VAPI it leaves VAPI first (a worker, retried);
    either way a worker gives the number back the URLs it had before we took it over."""
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    audit(organization=organization, actor=actor, verb="phone_number.removal_requested", target=locked)
    locked.status, locked.status_reason = NumberStatus.INACTIVE, "Being removed"
    locked.agent = None
    locked.platform_state = PlatformState.PENDING if locked.platform_id else PlatformState.NONE
    locked.save(update_fields=["status", "status_reason", "agent", "platform_state", "updated_at"])
    lines_changed(locked.provider_account.account_sid)
    from telephony.tasks import phone_number_finish_removal

    transaction.on_commit(lambda: phone_number_finish_removal.delay(organization_id=str(organization.pk),
                                                                    phone_number_id=str(locked.pk)))


def phone_number_finish_removal(*, organization: Organization, number: PhoneNumber) -> None:
    from .platform import vapi_leave

    if number.platform_id:
        vapi_leave(organization=organization, number=number, restore_ours=False)
    account = number.provider_account
    if account.webhook_mode == WebhookMode.PER_NUMBER and number.webhook_configured:
        try:
            providers.for_account(account).configure_webhooks(
                number.provider_sid,
                WebhookUrls(sms_url=number.previous_sms_url, status_callback="", voice_url=number.previous_voice_url),
            )
        except ProviderError as exc:
            if exc.status != 404:  # gone at Twilio already: nothing to give back
                PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                    status_reason=f"Removal failed: {exc.message}", updated_at=timezone.now())
                raise
    with transaction.atomic():
        audit(organization=organization, actor=None, verb="phone_number.removed", target=number,
              data={"phone_number": number.phone_number})
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).delete()

"""Files we host for outbound messages: an agent's upload, kept in storage and handed to the
provider as a signed link that expires (the provider fetches it without logging in).

A link names the file and its type, signed with our key and stamped with the time: a forged link is
refused, and an expired one is refused with that reason. A file that no message refers to (the
reply was refused after the upload, or the message was deleted) is deleted by the hourly sweep once
it is older than a grace period.
"""

from __future__ import annotations

import mimetypes
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from messaging.models import Direction, Message
from tenants.models import Organization

SIGNER_SALT = "softphone.outbound-attachment"
LINK_PATH = "/attachments/"


class LinkExpired(Exception):
    """A genuine link of ours, past its time."""


class LinkInvalid(Exception):
    """Not a link of ours (forged, truncated), or its file is gone."""


@dataclass(frozen=True)
class Attachment:
    path: str
    content_type: str


def _folder(organization_id) -> str:
    return f"outbound/{organization_id}/"


def attachment_store(*, organization: Organization, upload) -> str:
    """Keep an uploaded file and return the public, signed, expiring URL the provider fetches it from."""
    extension = mimetypes.guess_extension(upload.content_type) or ""
    name = default_storage.save(f"{_folder(organization.pk)}{uuid.uuid4().hex}{extension}", upload)
    return attachment_link(Attachment(path=name, content_type=upload.content_type))


def attachment_link(attachment: Attachment) -> str:
    token = signing.dumps({"path": attachment.path, "type": attachment.content_type}, salt=SIGNER_SALT,
                          compress=True)
    return settings.PUBLIC_BASE_URL + reverse("attachment-public", kwargs={"token": token})


def _token_of(url: str) -> str | None:
    prefix = settings.PUBLIC_BASE_URL + LINK_PATH
    if not url.startswith(prefix):
        return None
    token = url[len(prefix):].rstrip("/")
    return token if token and "/" not in token else None


def _decode(token: str, *, max_age) -> Attachment:
    data = signing.loads(token, salt=SIGNER_SALT, max_age=max_age)
    return Attachment(path=data["path"], content_type=data["type"])


def attachment_for_token(token: str) -> Attachment:
    """The stored file behind a link. Raises LinkExpired or LinkInvalid."""
    try:
        attachment = _decode(token, max_age=settings.ATTACHMENT_LINK_SECONDS)
    except signing.SignatureExpired:
        raise LinkExpired("This attachment link has expired.") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkInvalid("This attachment link is not valid.") from None
    if not default_storage.exists(attachment.path):
        raise LinkInvalid("This attachment is no longer kept.")
    return attachment


def attachment_file(attachment: Attachment):
    return default_storage.open(attachment.path, "rb")


def hosted_attachment(url: str, *, organization: Organization) -> Attachment | None:
    """The organization's own file behind ``url`` when it is a current link of ours, else None."""
    token = _token_of(url)
    if token is None:
        return None
    try:
        attachment = attachment_for_token(token)
    except (LinkExpired, LinkInvalid):
        return None
    return attachment if attachment.path.startswith(_folder(organization.pk)) else None


def attachment_fresh_link(url: str) -> str:
    """For a member looking at a thread: a new link to the file behind one of our links (it may have
    expired since the message was sent); any other URL as it is."""
    token = _token_of(url)
    if token is None:
        return url
    try:
        return attachment_link(_decode(token, max_age=None))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return url


def attachment_discard(url: str) -> None:
    """Delete the file behind a link just made, when the reply it was for was refused."""
    token = _token_of(url)
    if token is None:
        return
    try:
        default_storage.delete(_decode(token, max_age=None).path)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return


def _referenced_paths(organization: Organization) -> set[str]:
    """Every stored file an outbound message of the organization links to, whatever the link's age."""
    paths = set()
    rows = Message.objects.filter(organization=organization, direction=Direction.OUTBOUND,
                                  media__0__url__startswith=settings.PUBLIC_BASE_URL + LINK_PATH)
    for media in rows.values_list("media", flat=True).iterator():
        for item in media:
            token = _token_of(item.get("url", ""))
            if token is None:
                continue
            try:
                paths.add(_decode(token, max_age=None).path)
            except (signing.BadSignature, KeyError, TypeError, ValueError):
                continue
    return paths


def attachments_sweep(*, organization: Organization) -> int:
    """Delete the organization's uploaded files that no message refers to and that are older than
    ATTACHMENT_ORPHAN_GRACE_SECONDS (a reply being sent right now has its file before its row).
    Returns how many were deleted."""
    folder = _folder(organization.pk)
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.ATTACHMENT_ORPHAN_GRACE_SECONDS)
    old = [folder + name for name in files if default_storage.get_modified_time(folder + name) < cutoff]
    if not old:
        return 0
    referenced = _referenced_paths(organization)
    deleted = 0
    for path in old:
        if path not in referenced:
            default_storage.delete(path)
            deleted += 1
    return deleted

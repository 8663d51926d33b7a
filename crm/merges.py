"""Writes of `crm`: two contacts that are the same person made one.

The survivor keeps its number (what we write and call to from now on) and gains everything of the
duplicate: conversations, calls, orders, earlier merges, what the team knew of them. Nothing is lost:
every row that points at the duplicate is moved, whatever app it belongs to (the merge follows the
foreign keys, so a table added later is moved too, and tests/crm/test_merges.py checks the list),
the duplicate's fields are kept in the merge's record, and its number keeps reaching the person (a
message or call from it finds the survivor, see ContactMerge)."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Organization
from tenants.services import audit

from .models import Contact, ContactMerge
from .signals import contact_changed, contacts_merging

# What the survivor takes from the duplicate when it knows nothing of it itself.
FILL_FIELDS = ("name", "email", "whatsapp_profile_name", "wa_id", "profile_image_url")
# Kept in the merge's record as they were: every field of the duplicate but the derived search vector.
SNAPSHOT_EXCLUDED = {"search_vector", "organization"}


def _snapshot(contact: Contact) -> dict:
    values = {}
    for field in contact._meta.concrete_fields:
        if field.name in SNAPSHOT_EXCLUDED:
            continue
        value = getattr(contact, field.attname)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool | list | type(None)):
            value = str(value)
        values[field.name] = value
    return values


def contact_merge(*, organization: Organization, actor, survivor: Contact, duplicate: Contact) -> ContactMerge:
    """Make `duplicate` part of `survivor`, and remove it. Both are locked (in one order, so two merges
    of the same pair in opposite directions wait for each other, and the second finds one of them gone:
    a ValidationError that says so). Opt-outs are kept: the survivor is opted out of a channel the
    duplicate had opted out of (a person who said stop said it to us, whichever number they used)."""
    if survivor.pk == duplicate.pk:
        raise ValidationError("Choose two different contacts: a contact cannot be merged into itself.")
    with transaction.atomic():
        locked = {contact.pk: contact for contact in
                  Contact.objects.select_for_update().filter(organization=organization,
                                                             pk__in=[survivor.pk, duplicate.pk]).order_by("pk")}
        if len(locked) != 2:
            raise ValidationError("One of these contacts no longer exists (merged or removed meanwhile): "
                                  "reload the page and choose again.")
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        snapshot = _snapshot(duplicate)
        moved: dict[str, int] = {}
        contacts_merging.send(sender=Contact, organization=organization, survivor=survivor, duplicate=duplicate,
                              moved=moved)
        for relation in Contact._meta.related_objects:
            model, field = relation.related_model, relation.field.name
            count = model._default_manager.filter(organization=organization, **{field: duplicate}).update(
                **{field: survivor})
            if count:
                key = str(model._meta.verbose_name_plural)
                moved[key] = moved.get(key, 0) + count
        changed = _take_over(survivor, duplicate)
        # The duplicate's address reaches the survivor from now on (a stale record of it, left by a
        # contact created for that address meanwhile, is replaced).
        ContactMerge.objects.filter(organization=organization, merged_address=duplicate.phone_number).delete()
        record = ContactMerge.objects.create(
            organization=organization, contact=survivor, merged_contact_id=duplicate.pk,
            merged_address=duplicate.phone_number, merged_name=duplicate.display_name[:200],
            merged_snapshot=snapshot, moved=moved, merged_by=actor if getattr(actor, "is_authenticated", False) else None)
        duplicate.delete()
        survivor.save(update_fields=[*changed, "updated_at"])
        audit(organization=organization, actor=actor, verb="contact.merged", target=survivor,
              data={"merged": duplicate.phone_number, "merged_contact": str(record.merged_contact_id),
                    "moved": moved, "fields": changed})
        contact_changed.send(sender=Contact, contact=survivor)
    return record


def _take_over(survivor: Contact, duplicate: Contact) -> list[str]:
    """What the survivor takes from the duplicate: blanks filled, notes and labels joined, opt-outs kept, the
    earlier first sighting. The names of the fields changed."""
    changed = []
    for field in FILL_FIELDS:
        if not getattr(survivor, field) and getattr(duplicate, field):
            setattr(survivor, field, getattr(duplicate, field))
            changed.append(field)
    if duplicate.notes and duplicate.notes not in survivor.notes:
        header = f"From {duplicate.display_name} ({duplicate.phone_number}), merged:"
        survivor.notes = "\n\n".join(part for part in (survivor.notes, f"{header}\n{duplicate.notes}") if part)
        changed.append("notes")
    for channel in ("sms", "whatsapp"):
        at, source = f"{channel}_opted_out_at", f"{channel}_opt_out_source"
        if getattr(duplicate, at) and not getattr(survivor, at):
            setattr(survivor, at, getattr(duplicate, at))
            setattr(survivor, source, f"{getattr(duplicate, source) or 'opted out'} (as {duplicate.phone_number})"[:100])
            changed += [at, source]
    labels = {label.casefold(): label for label in [*duplicate.labels, *survivor.labels]}  # the survivor's spelling
    if len(labels) > len(survivor.labels):
        survivor.labels = sorted(labels.values(), key=str.casefold)
        changed.append("labels")
    if duplicate.created_at < survivor.created_at:
        survivor.created_at = duplicate.created_at
        changed.append("created_at")
    return changed

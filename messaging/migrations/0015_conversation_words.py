"""The words of each conversation, on its own row: what inbox search by words reads.

Two columns of messaging_conversation that Django does not know about (nothing in Python reads or
writes them; messaging.selectors searches them through SQL expressions), kept by triggers so that
every writer keeps them right (services, the drain's SQL, merges, deletes, bulk SQL):

- contact_words: the contact's search vector (name, WhatsApp profile name, email), copied when the
  conversation is created or moves to another contact, and again whenever the contact's changes;
- message_words: every word of the conversation's messages, without positions ('simple' parsing,
  as messaging_message.search_vector). A statement that inserts messages adds their words (one
  UPDATE per conversation per statement); one that changes a message's text or conversation, or
  deletes messages, counts the words of the conversations concerned again, so words of a deleted
  (erased) message are no longer found.

Search then reads one row per conversation, without a join to the contact or a probe of its
messages (docs/architecture.md, "Search by words"). The backfill counts what exists.
"""

from django.db import migrations

# The words of some messages' bodies, as messaging_message.search_vector parses each (to_tsvector with
# 'simple'), joined by a line break, which no word spans; stripped of positions.
WORDS_OF = "coalesce(strip(to_tsvector('simple', string_agg({body}, E'\\n'))), ''::tsvector)"
OF_MESSAGES = WORDS_OF.format(body="m.body")
OF_BODIES = WORDS_OF.format(body="body")

FOLLOW = f"""
alter table messaging_conversation
    add column contact_words tsvector not null default '',
    add column message_words tsvector not null default '';

create function messaging_conversation_contact_words() returns trigger language plpgsql as $$
begin
    new.contact_words := coalesce((select k.search_vector from crm_contact k where k.id = new.contact_id), '');
    return new;
end $$;
create trigger messaging_conversation_contact_words_insert before insert on messaging_conversation
    for each row execute function messaging_conversation_contact_words();
create trigger messaging_conversation_contact_words_update before update of contact_id on messaging_conversation
    for each row when (old.contact_id is distinct from new.contact_id)
    execute function messaging_conversation_contact_words();

create function crm_contact_words_follow() returns trigger language plpgsql as $$
begin
    update messaging_conversation set contact_words = new.search_vector where contact_id = new.id;
    return null;
end $$;
create trigger crm_contact_words_follow after update on crm_contact
    for each row when (old.search_vector is distinct from new.search_vector)
    execute function crm_contact_words_follow();

create function messaging_conversation_words_recount(conversations uuid[]) returns void language sql as $$
    update messaging_conversation c
    set message_words = (select {OF_MESSAGES}
                         from messaging_message m where m.conversation_id = c.id)
    where c.id = any(conversations);
$$;

create function messaging_message_words_add() returns trigger language plpgsql as $$
begin
    update messaging_conversation c set message_words = c.message_words || added.words
    from (select conversation_id, {OF_BODIES} as words
          from added_messages group by conversation_id) added
    where c.id = added.conversation_id and added.words <> ''::tsvector;
    return null;
end $$;
create trigger messaging_message_words_add after insert on messaging_message
    referencing new table as added_messages
    for each statement execute function messaging_message_words_add();

create function messaging_message_words_changed() returns trigger language plpgsql as $$
begin
    perform messaging_conversation_words_recount(array(
        select o.conversation_id from old_messages o join new_messages n on n.id = o.id
        where o.body is distinct from n.body or o.conversation_id <> n.conversation_id
        union
        select n.conversation_id from old_messages o join new_messages n on n.id = o.id
        where o.body is distinct from n.body or o.conversation_id <> n.conversation_id));
    return null;
end $$;
create trigger messaging_message_words_changed after update on messaging_message
    referencing old table as old_messages new table as new_messages
    for each statement execute function messaging_message_words_changed();

create function messaging_message_words_removed() returns trigger language plpgsql as $$
begin
    perform messaging_conversation_words_recount(array(select distinct conversation_id from removed_messages));
    return null;
end $$;
create trigger messaging_message_words_removed after delete on messaging_message
    referencing old table as removed_messages
    for each statement execute function messaging_message_words_removed();

select set_config('app.bypass_rls', 'on', true);
update messaging_conversation c
set contact_words = coalesce(k.search_vector, ''), message_words = coalesce(w.words, '')
from messaging_conversation c2
left join crm_contact k on k.id = c2.contact_id
left join (select conversation_id, {OF_BODIES} as words
           from messaging_message group by conversation_id) w on w.conversation_id = c2.id
where c2.id = c.id;
select set_config('app.bypass_rls', 'off', true);
"""

UNFOLLOW = """
drop trigger messaging_message_words_removed on messaging_message;
drop trigger messaging_message_words_changed on messaging_message;
drop trigger messaging_message_words_add on messaging_message;
drop trigger crm_contact_words_follow on crm_contact;
drop trigger messaging_conversation_contact_words_update on messaging_conversation;
drop trigger messaging_conversation_contact_words_insert on messaging_conversation;
drop function messaging_message_words_removed();
drop function messaging_message_words_changed();
drop function messaging_message_words_add();
drop function messaging_conversation_words_recount(uuid[]);
drop function crm_contact_words_follow();
drop function messaging_conversation_contact_words();
alter table messaging_conversation drop column message_words, drop column contact_words;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0014_label_use"),
        ("crm", "0011_contact_labelled_index"),
    ]

    operations = [migrations.RunSQL(FOLLOW, reverse_sql=UNFOLLOW)]

"""LabelUse: how many conversations carry each label, kept by a trigger on messaging_conversation.

The trigger counts a conversation once per distinct label, follows inserts, deletes, label changes
and a conversation moving organization, drops a count to zero rather than deleting the row (the
filter lists labels with a count above zero), and runs as the writer under row-level security:
the counts it touches are of the conversation's own organization. The backfill counts what exists.
"""

import core.ids
import django.db.models.deletion
import tenants.rls
from django.db import migrations, models


FOLLOW = """
create function messaging_label_use_follow() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update messaging_labeluse u set conversations = greatest(u.conversations - 1, 0)
        where u.organization_id = old.organization_id
          and u.label in (select distinct l from unnest(old.labels) l)
          and (tg_op = 'DELETE' or new.organization_id <> old.organization_id or not (u.label = any(new.labels)));
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into messaging_labeluse (id, organization_id, label, conversations)
        select gen_random_uuid(), new.organization_id, l, 1
        from (select distinct l from unnest(new.labels) l) added
        where tg_op = 'INSERT' or new.organization_id <> old.organization_id or not (l = any(old.labels))
        on conflict (organization_id, label) do update set conversations = messaging_labeluse.conversations + 1;
    end if;
    return null;
end $$;
create trigger messaging_label_use_insert after insert on messaging_conversation
    for each row when (cardinality(new.labels) > 0) execute function messaging_label_use_follow();
create trigger messaging_label_use_delete after delete on messaging_conversation
    for each row when (cardinality(old.labels) > 0) execute function messaging_label_use_follow();
create trigger messaging_label_use_update after update of labels, organization_id on messaging_conversation
    for each row when (old.labels is distinct from new.labels or old.organization_id <> new.organization_id)
    execute function messaging_label_use_follow();

select set_config('app.bypass_rls', 'on', true);
insert into messaging_labeluse (id, organization_id, label, conversations)
select gen_random_uuid(), organization_id, label, count(*)
from (select distinct c.id, c.organization_id, l as label from messaging_conversation c, unnest(c.labels) l) used
group by organization_id, label;
select set_config('app.bypass_rls', 'off', true);
"""

UNFOLLOW = """
drop trigger messaging_label_use_insert on messaging_conversation;
drop trigger messaging_label_use_delete on messaging_conversation;
drop trigger messaging_label_use_update on messaging_conversation;
drop function messaging_label_use_follow();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0013_message_embedding'),
        ('tenants', '0006_client_access'),
    ]

    operations = [
        migrations.CreateModel(
            name='LabelUse',
            fields=[
                ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('label', models.CharField(max_length=50)),
                ('conversations', models.PositiveIntegerField(default=0)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.organization')),
            ],
            options={
                'ordering': ['label'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'label'), name='label_use_unique')],
            },
        ),
        tenants.rls.EnableRowLevelSecurity(
            model_name='LabelUse',
        ),
        migrations.RunSQL(FOLLOW, reverse_sql=UNFOLLOW),
    ]

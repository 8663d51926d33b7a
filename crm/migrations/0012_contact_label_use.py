"""ContactLabelUse: how many contacts carry each label, kept by a trigger on crm_contact.

As messaging's LabelUse (messaging/migrations/0014_label_use.py) for conversations: the trigger
counts a contact once per distinct label, follows inserts, deletes, label changes and a contact
moving organization, drops a count to zero rather than deleting the row (the filter lists labels
with a count above zero), and runs as the writer under row-level security: the counts it touches
are of the contact's own organization. The backfill counts what exists.
"""

import core.ids
import django.db.models.deletion
import tenants.rls
from django.db import migrations, models

FOLLOW = """
create function crm_contact_label_use_follow() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update crm_contactlabeluse u set contacts = greatest(u.contacts - 1, 0)
        where u.organization_id = old.organization_id
          and u.label in (select distinct l from unnest(old.labels) l)
          and (tg_op = 'DELETE' or new.organization_id <> old.organization_id or not (u.label = any(new.labels)));
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into crm_contactlabeluse (id, organization_id, label, contacts)
        select gen_random_uuid(), new.organization_id, l, 1
        from (select distinct l from unnest(new.labels) l) added
        where tg_op = 'INSERT' or new.organization_id <> old.organization_id or not (l = any(old.labels))
        on conflict (organization_id, label) do update set contacts = crm_contactlabeluse.contacts + 1;
    end if;
    return null;
end $$;
create trigger crm_contact_label_use_insert after insert on crm_contact
    for each row when (cardinality(new.labels) > 0) execute function crm_contact_label_use_follow();
create trigger crm_contact_label_use_delete after delete on crm_contact
    for each row when (cardinality(old.labels) > 0) execute function crm_contact_label_use_follow();
create trigger crm_contact_label_use_update after update of labels, organization_id on crm_contact
    for each row when (old.labels is distinct from new.labels or old.organization_id <> new.organization_id)
    execute function crm_contact_label_use_follow();

select set_config('app.bypass_rls', 'on', true);
insert into crm_contactlabeluse (id, organization_id, label, contacts)
select gen_random_uuid(), organization_id, label, count(*)
from (select distinct c.id, c.organization_id, l as label from crm_contact c, unnest(c.labels) l) used
group by organization_id, label;
select set_config('app.bypass_rls', 'off', true);
"""

UNFOLLOW = """
drop trigger crm_contact_label_use_insert on crm_contact;
drop trigger crm_contact_label_use_delete on crm_contact;
drop trigger crm_contact_label_use_update on crm_contact;
drop function crm_contact_label_use_follow();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0011_contact_labelled_index'),
        ('tenants', '0006_client_access'),
    ]

    operations = [
        migrations.CreateModel(
            name='ContactLabelUse',
            fields=[
                ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('label', models.CharField(max_length=50)),
                ('contacts', models.PositiveIntegerField(default=0)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.organization')),
            ],
            options={
                'ordering': ['label'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'label'), name='contact_label_use_unique')],
            },
        ),
        tenants.rls.EnableRowLevelSecurity(
            model_name='ContactLabelUse',
        ),
        migrations.RunSQL(FOLLOW, reverse_sql=UNFOLLOW),
    ]

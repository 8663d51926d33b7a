from django import forms
from django.contrib.auth import get_user_model, password_validation

from core.validators import validate_name, validate_vapi_id

from .models import AgentKind, AgentVisibility, Role
from .signals import AssistantCatalog


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)

    def __init__(self, *args, role_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if role_choices is not None:
            self.fields["role"].choices = role_choices


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AgentForm(forms.Form):
    name = forms.CharField(max_length=200, validators=[validate_name])
    kind = forms.ChoiceField(choices=AgentKind.choices, initial=AgentKind.HUMAN)
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, label="Person",
        help_text="For a person agent: the member who answers.",
    )
    assistant_id = forms.CharField(
        max_length=100, required=False, label="VAPI assistant id", help_text="For an AI agent.",
        validators=[validate_vapi_id],
    )
    client = forms.ModelChoiceField(queryset=None, required=False, help_text="Optional: the client it serves.")

    def __init__(self, *args, members, clients, assistants: AssistantCatalog | None = None,
                 current_assistant: str = "", **kwargs):
        """`assistants`: the connected voice-AI platform's list (None when none is connected);
        `current_assistant`: the agent's assistant now, offered even if the platform lost it, so
        the rest of the agent can still be changed."""
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.email or u.username})"
        self.fields["client"].queryset = clients
        self._offer_assistants(assistants, current_assistant)

    def _offer_assistants(self, catalog: AssistantCatalog | None, current: str) -> None:
        field = self.fields["assistant_id"]
        if catalog is None:
            field.help_text = ("For an AI agent: its VAPI assistant id. Connect a VAPI account to choose among "
                               "its assistants; until then the id is kept as typed, unchecked.")
        elif catalog.error:
            field.help_text = (f"For an AI agent. {catalog.platform}'s assistants could not be listed "
                               f"({catalog.error}) Type the assistant id: it is checked with "
                               f"{catalog.platform} when you save, and a new one cannot be saved until "
                               f"{catalog.platform} answers.")
        else:
            choices = [("", "None (a person agent)")]
            choices += [(id_, f"{name or 'Unnamed assistant'} ({id_})") for id_, name in catalog.assistants]
            if current and not catalog.has(current):
                choices.append((current, f"{current} (no longer in {catalog.platform})"))
            self.fields["assistant_id"] = forms.ChoiceField(
                choices=choices, required=False, label=field.label,
                help_text=f"For an AI agent: one of the assistants of the connected {catalog.platform} account.",
                error_messages={"invalid_choice": f"The connected {catalog.platform} account has no assistant "
                                                  f"with id %(value)s."},
            )


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=300, required=False, label="Your name", validators=[validate_name])
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            raise forms.ValidationError("The two passwords differ.")
        if p1:
            user = get_user_model()(username=self.email, email=self.email)
            password_validation.validate_password(p1, user)
        return data


class ClientForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class MemberClientsForm(forms.Form):
    """Which clients a member sees (tenants.access)."""

    access = forms.ChoiceField(choices=[("all", "Every client, and the organization's own numbers"),
                                        ("some", "Only the clients ticked below")],
                               widget=forms.RadioSelect, initial="all", label="Sees")
    clients = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Clients")

    def __init__(self, *args, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_rows = {str(client.pk): client for client in clients}
        self.fields["clients"].choices = [
            (pk, f"{client.name} (archived)" if client.archived_at else client.name)
            for pk, client in self.client_rows.items()]

    def chosen_clients(self) -> list:
        return [self.client_rows[pk] for pk in self.cleaned_data["clients"]]


class AgentVisibilityForm(forms.Form):
    agent_visibility = forms.ChoiceField(choices=AgentVisibility.choices, widget=forms.RadioSelect,
                                         label="What agents see")

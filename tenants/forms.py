from django import forms
from django.contrib.auth import get_user_model, password_validation

from core.validators import validate_name, validate_vapi_id

from .models import AgentKind, Role


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

    def __init__(self, *args, members, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.email or u.username})"
        self.fields["client"].queryset = clients


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

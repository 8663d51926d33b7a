from django import forms

from core.validators import validate_credential, validate_name

from .models import CallDirection, NumberStatus, SignatureMethod, WebhookMode


class TwilioAccountForm(forms.Form):
    friendly_name = forms.CharField(max_length=200, required=False, label="Name", validators=[validate_name],
                                    help_text="Optional; Twilio's account name is used otherwise.")
    account_sid = forms.CharField(max_length=64, label="Account SID", validators=[validate_credential])
    auth_token = forms.CharField(max_length=200, label="Auth token", widget=forms.PasswordInput,
                                 validators=[validate_credential])
    webhook_mode = forms.ChoiceField(choices=WebhookMode.choices, initial=WebhookMode.PER_NUMBER,
                                     label="Webhooks")
    client = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, *args, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients


class VonageAccountForm(forms.Form):
    friendly_name = forms.CharField(max_length=200, required=False, label="Name", validators=[validate_name])
    api_key = forms.CharField(max_length=16, label="API key", validators=[validate_credential])
    api_secret = forms.CharField(max_length=200, label="API secret", widget=forms.PasswordInput,
                                 validators=[validate_credential])
    signature_secret = forms.CharField(
        max_length=200, label="Signature secret", widget=forms.PasswordInput, validators=[validate_credential],
        help_text="Dashboard → API settings → Signed webhooks. Vonage signs the texts and receipts it sends with it.")
    signature_method = forms.ChoiceField(
        choices=SignatureMethod.choices, initial=SignatureMethod.MD5_HASH, label="Signature method",
        help_text="As chosen beside the signature secret on the dashboard.")
    client = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, *args, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients


class BandwidthAccountForm(forms.Form):
    friendly_name = forms.CharField(max_length=200, required=False, label="Name", validators=[validate_name])
    account_id = forms.CharField(max_length=12, label="Account id", validators=[validate_credential])
    api_client_id = forms.CharField(max_length=200, label="API credential: client id",
                                    validators=[validate_credential], help_text="Bandwidth App → Account → API Credentials, with the Numbers and "
                                          "Messaging roles.")
    api_client_secret = forms.CharField(max_length=200, label="Client secret", widget=forms.PasswordInput,
                                        validators=[validate_credential])
    application_id = forms.CharField(
        max_length=64, label="Messaging application id", validators=[validate_credential],
        help_text="Its callbacks are pointed at Softphone (with credentials Softphone makes) once connected, and "
                  "given back when you disconnect.")
    client = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, *args, clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients


class VapiAccountForm(forms.Form):
    friendly_name = forms.CharField(max_length=200, required=False, label="Name", validators=[validate_name])
    api_key = forms.CharField(max_length=200, label="VAPI private API key", widget=forms.PasswordInput,
                              validators=[validate_credential])


class NumberFilterForm(forms.Form):
    client = forms.ModelChoiceField(queryset=None, required=False, empty_label="All clients")
    agent = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any agent")
    assigned = forms.TypedChoiceField(choices=[("", "Assigned or not"), ("yes", "Assigned"), ("no", "Unassigned")],
                                      required=False, coerce=lambda v: {"yes": True, "no": False}.get(v),
                                      empty_value=None)
    status = forms.ChoiceField(choices=[("", "Any status"), *NumberStatus.choices], required=False)
    search = forms.CharField(required=False, max_length=40, label="Number or name")

    def __init__(self, *args, clients, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["agent"].queryset = agents


class AssignForm(forms.Form):
    agent = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody (unassign)")

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents


class RenameForm(forms.Form):
    friendly_name = forms.CharField(max_length=100, required=False, label="Friendly name",
                                    validators=[validate_name])


class SearchAvailableForm(forms.Form):
    account = forms.ModelChoiceField(queryset=None, empty_label=None, label="Account")
    country = forms.RegexField(r"^[A-Za-z]{2}$", initial="US", max_length=2,
                               error_messages={"invalid": "Use a two-letter country code, e.g. US."})
    number_type = forms.ChoiceField(choices=[("local", "Local"), ("toll_free", "Toll-free"), ("mobile", "Mobile")],
                                    label="Type")
    area_code = forms.RegexField(r"^\d{2,5}$", required=False, error_messages={"invalid": "Digits only."})
    contains = forms.RegexField(r"^[0-9*A-Za-z]{1,16}$", required=False,
                                error_messages={"invalid": "Digits, letters or *."})
    sms = forms.BooleanField(required=False, label="SMS")
    mms = forms.BooleanField(required=False, label="MMS")
    voice = forms.BooleanField(required=False, label="Voice")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts


class NumberVoiceForm(forms.Form):
    """A number's ringing and voicemail. The recording's content is checked by the service."""

    ring_timeout = forms.IntegerField(
        label="Ring for (seconds)", min_value=5, max_value=60,
        help_text="How long the assigned person's softphone rings before the caller reaches voicemail (5 to 60).",
        error_messages={"min_value": "Ring for 5 to 60 seconds.", "max_value": "Ring for 5 to 60 seconds.",
                        "invalid": "Ring for 5 to 60 seconds.", "required": "Ring for 5 to 60 seconds."})
    voicemail_greeting = forms.CharField(
        label="Voicemail greeting", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Spoken to callers who reach voicemail; a default greeting is used when empty.")
    greeting_audio = forms.FileField(
        label="Recorded greeting", required=False,
        help_text="An MP3 or WAV file, played instead of the text.",
        widget=forms.FileInput(attrs={"accept": "audio/mpeg,audio/wav,.mp3,.wav"}))
    remove_greeting_audio = forms.BooleanField(label="Remove the recorded greeting", required=False)


class CallingRulesForm(forms.Form):
    allow_premium_rate = forms.BooleanField(
        required=False, label="Allow premium-rate numbers",
        help_text="Numbers that charge by the minute (e.g. +1 900): the classic target of toll fraud.")
    allow_emergency = forms.BooleanField(
        required=False, label="Allow emergency numbers from the browser",
        help_text="911, 112, 999...: the browser gives the dispatcher no location to send help to.")
    allowed_prefixes = forms.CharField(
        required=False, label="Always allowed", widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Number prefixes agents may always call, one a line, e.g. +1900555.")


class CallFilterForm(forms.Form):
    """The call log's filters (the same as the API's)."""

    mine = forms.BooleanField(required=False, label="Only mine")
    missed = forms.BooleanField(required=False, label="Missed")
    voicemail = forms.BooleanField(required=False, label="Voicemail")
    direction = forms.ChoiceField(choices=[("", "In and out"), *CallDirection.choices], required=False,
                                  label="Direction")
    number = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any number", label="Our number",
                                    error_messages={"invalid_choice": "Choose one of this organization's numbers."})
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "Enter the first day as YYYY-MM-DD."})
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
                              error_messages={"invalid": "Enter the last day as YYYY-MM-DD."})

    def __init__(self, *args, numbers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].queryset = numbers

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The first day comes after the last one.")
        return data


class CallNotesForm(forms.Form):
    notes = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 5}),
                            label="Notes")

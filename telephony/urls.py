from django.urls import path

from . import api, views, views_calls, views_voice, webhooks_vapi, webhooks_voice

html_patterns = [
    path("numbers/", views.number_list, name="number-list"),
    path("numbers/assign/", views.number_bulk_assign, name="number-bulk-assign"),
    path("numbers/search/", views.number_search, name="number-search"),
    path("numbers/buy/", views.number_buy, name="number-buy"),
    path("numbers/import/", views.number_import, name="number-import"),
    path("numbers/import/start/", views.number_import_start, name="number-import-start"),
    path("numbers/accounts/", views.account_list, name="account-list"),
    path("numbers/accounts/connect/<str:provider>/", views.account_connect, name="account-connect"),
    path("numbers/accounts/<uuid:provider_account_id>/sync/", views.account_sync, name="account-sync"),
    path("numbers/accounts/<uuid:provider_account_id>/delete/", views.account_delete, name="account-delete"),
    path("numbers/accounts/<uuid:provider_account_id>/voice/", views.account_voice, name="account-voice"),
    path("numbers/<uuid:phone_number_id>/", views.number_detail, name="number-detail"),
    path("numbers/<uuid:phone_number_id>/assign/", views.number_assign, name="number-assign"),
    path("numbers/<uuid:phone_number_id>/rename/", views.number_rename, name="number-rename"),
    path("numbers/<uuid:phone_number_id>/repair/", views.number_repair, name="number-repair"),
    path("numbers/<uuid:phone_number_id>/platform-sync/", views.number_platform_retry, name="number-platform-sync"),
    path("numbers/<uuid:phone_number_id>/remove/", views.number_remove, name="number-remove"),
    path("numbers/<uuid:phone_number_id>/voice/", views.number_voice_settings, name="number-voice"),
    path("calling-rules/", views.calling_rules_edit, name="calling-rules"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("calls/", views_calls.call_log_page, name="call-log"),
    path("calls/<uuid:call_id>/", views_calls.call_detail, name="call-detail"),
    path("calls/<uuid:call_id>/notes/", views_calls.call_notes, name="call-notes"),
    path("calls/<uuid:call_id>/recording/", views_calls.call_recording, name="call-recording"),
    path("telephony/token", views_voice.voice_token, name="voice-token"),
    path("telephony/presence", views_voice.voice_presence, name="voice-presence"),
    path("calls/live/", views_voice.call_live, name="call-live"),
    path("calls/transfer-targets/", views_voice.call_transfer_targets, name="call-transfer-targets"),
    path("calls/<uuid:call_id>/hold/", views_voice.call_hold, name="call-hold"),
    path("calls/<uuid:call_id>/transfer/", views_voice.call_transfer, name="call-transfer"),
    path("calls/<uuid:call_id>/transfer/complete/", views_voice.call_transfer_complete, name="call-transfer-complete"),
    path("calls/<uuid:call_id>/transfer/cancel/", views_voice.call_transfer_cancel, name="call-transfer-cancel"),
]

api_patterns = [
    path("provider-accounts", api.ProviderAccountListCreateApi.as_view(), name="api-provider-accounts"),
    path("provider-accounts/<uuid:provider_account_id>", api.ProviderAccountDetailApi.as_view(),
         name="api-provider-account-detail"),
    path("provider-accounts/<uuid:provider_account_id>/sync", api.ProviderAccountSyncApi.as_view(),
         name="api-provider-account-sync"),
    path("provider-accounts/<uuid:provider_account_id>/voice", api.ProviderAccountVoiceApi.as_view(),
         name="api-provider-account-voice"),
    path("phone-numbers", api.PhoneNumberListCreateApi.as_view(), name="api-phone-numbers"),
    path("phone-numbers/twilio/available", api.AvailableNumbersApi.as_view(), name="api-phone-numbers-available"),
    path("phone-numbers/buy", api.BuyNumberApi.as_view(), name="api-phone-numbers-buy"),
    path("phone-numbers/import", api.ImportNumbersApi.as_view(), name="api-phone-numbers-import"),
    path("phone-numbers/<uuid:phone_number_id>", api.PhoneNumberDetailApi.as_view(), name="api-phone-number-detail"),
    path("phone-numbers/<uuid:phone_number_id>/repair-webhooks", api.PhoneNumberRepairApi.as_view(),
         name="api-phone-number-repair"),
    path("jobs/<uuid:job_id>", api.JobDetailApi.as_view(), name="api-job-detail"),
    path("calls", api.CallListApi.as_view(), name="api-calls"),
    path("calls/<uuid:call_id>", api.CallDetailApi.as_view(), name="api-call-detail"),
]

# Mounted under /webhooks/ (namespace "voice-webhooks"): the addresses in
# telephony.services.webhook_contract.VOICE_PATHS and VAPI_PATH.
webhook_patterns = [
    path("twilio/voice/inbound/", webhooks_voice.inbound, name="voice-inbound"),
    path("twilio/voice/outbound/", webhooks_voice.outbound, name="voice-outbound"),
    path("twilio/voice/status/", webhooks_voice.status, name="voice-status"),
    path("twilio/voice/after-dial/", webhooks_voice.after_dial, name="voice-after-dial"),
    path("twilio/voice/voicemail/", webhooks_voice.voicemail, name="voice-voicemail"),
    path("twilio/voice/recording/", webhooks_voice.recording, name="voice-recording"),
    path("twilio/voice/conference/", webhooks_voice.conference, name="voice-conference"),
    path("twilio/voice/connect/", webhooks_voice.connect, name="voice-connect"),
    path("twilio/voice/hold-music/", webhooks_voice.hold_music, name="voice-hold-music"),
    path("twilio/voice/greeting/<str:token>/", webhooks_voice.greeting, name="voice-greeting"),
    path("vapi/", webhooks_vapi.report, name="vapi"),
]

from django.urls import path

from . import api, views

html_patterns = [
    path("contacts/", views.contact_list_page, name="contact-list"),
    path("contacts/export.csv", views.contact_export, name="contact-export"),
    path("contacts/import/", views.contact_import, name="contact-import"),
    path("contacts/import/<uuid:contact_import_id>/", views.contact_import_detail, name="contact-import-detail"),
    path("contacts/<uuid:contact_id>/", views.contact_detail, name="contact-detail"),
    path("contacts/<uuid:contact_id>/merge/", views.contact_merge_search, name="contact-merge-search"),
    path("contacts/<uuid:contact_id>/merge/<uuid:duplicate_id>/", views.contact_merge, name="contact-merge"),
    path("orders/", views.order_list_page, name="order-list"),
    path("orders/totals/", views.order_totals, name="order-totals"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order-detail"),
    path("orders/number/<int:number>/", views.order_by_number, name="order-by-number"),
]

api_patterns = [
    path("contacts/merge", api.ContactMergeApi.as_view(), name="api-contact-merge"),
    path("contacts/<uuid:contact_id>/orders", api.ContactOrdersApi.as_view(), name="api-contact-orders"),
    path("orders", api.OrderListApi.as_view(), name="api-orders"),
    path("orders/<uuid:order_id>", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<uuid:order_id>/transitions", api.OrderTransitionApi.as_view(), name="api-order-transitions"),
]

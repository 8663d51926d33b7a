from django.urls import path

from . import api

api_patterns = [
    path("contacts/<uuid:contact_id>/orders", api.ContactOrdersApi.as_view(), name="api-contact-orders"),
    path("orders", api.OrderListApi.as_view(), name="api-orders"),
    path("orders/<uuid:order_id>", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<uuid:order_id>/transitions", api.OrderTransitionApi.as_view(), name="api-order-transitions"),
]

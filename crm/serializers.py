"""Shapes of the `crm` API (camelCase on the wire). Money travels as strings with two decimals."""

from __future__ import annotations

from rest_framework import serializers

from .models import (
    MONEY_PLACES,
    ORDER_ITEMS_MAX,
    QUANTITY_MAX,
    UNIT_PRICE_MAX_DIGITS,
    ContactMerge,
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
)
from .services import ItemInput


class OrderItemSerializer(serializers.ModelSerializer):
    line_total = serializers.DecimalField(max_digits=17, decimal_places=MONEY_PLACES, read_only=True)

    class Meta:
        model = OrderItem
        fields = ["id", "name", "quantity", "unit_price", "line_total"]
        read_only_fields = fields


class OrderStatusChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.display_name", default=None, read_only=True)

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "changed_by", "changed_at"]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    contact_id = serializers.UUIDField(read_only=True)
    contact_name = serializers.CharField(source="contact.display_name", read_only=True)
    items = OrderItemSerializer(many=True, read_only=True)
    next_statuses = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Order
        fields = ["id", "number", "contact_id", "contact_name", "status", "next_statuses", "currency", "total",
                  "notes", "shipping_address", "version", "items", "created_at", "updated_at"]
        read_only_fields = fields


class OrderDetailSerializer(OrderOutputSerializer):
    status_changes = OrderStatusChangeSerializer(many=True, read_only=True)

    class Meta(OrderOutputSerializer.Meta):
        fields = [*OrderOutputSerializer.Meta.fields, "status_changes"]
        read_only_fields = fields


class OrderItemInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=QUANTITY_MAX)
    unit_price = serializers.DecimalField(max_digits=UNIT_PRICE_MAX_DIGITS, decimal_places=MONEY_PLACES,
                                          min_value=0)

    def to_item(self, data) -> ItemInput:
        return ItemInput(data["name"], data["quantity"], data["unit_price"])


class OrderCreateSerializer(serializers.Serializer):
    items = OrderItemInputSerializer(many=True, required=False, max_length=ORDER_ITEMS_MAX)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    shipping_address = serializers.CharField(required=False, allow_blank=True, max_length=2_000)


class OrderPatchSerializer(OrderCreateSerializer):
    version = serializers.IntegerField(
        min_value=1, error_messages={"required": "Send the version of the order you are changing (its `version`), "
                                                 "so that a change made meanwhile is not overwritten."})


class OrderTransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.choices)
    version = serializers.IntegerField(min_value=1, required=False)


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    contact_id = serializers.UUIDField(required=False)
    created_from = serializers.DateField(required=False)
    created_to = serializers.DateField(required=False)


class ContactMergeInputSerializer(serializers.Serializer):
    survivor_id = serializers.UUIDField(help_text="The contact that stays (its number is the one we write to).")
    duplicate_id = serializers.UUIDField(help_text="The contact merged into it and removed.")


class ContactMergeSerializer(serializers.ModelSerializer):
    contact_id = serializers.UUIDField(read_only=True, help_text="The survivor.")
    merged_by = serializers.CharField(source="merged_by.display_name", default=None, read_only=True)
    moved = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = ContactMerge
        fields = ["id", "contact_id", "merged_contact_id", "merged_address", "merged_name", "moved", "merged_by",
                  "merged_at"]
        read_only_fields = fields

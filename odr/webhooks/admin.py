from django.contrib import admin

from .models import WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "merchant", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "merchant__legal_name"]
    readonly_fields = ["created_at"]
    exclude = ["secret"]  # the signing secret is the merchant's; staff do not need to read it

"""The merchant portal's webhook pages (issue 7). Placeholder until webhooks land."""

app_name = "webhooks"

urlpatterns: list = []

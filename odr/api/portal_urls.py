"""The merchant portal's API-key pages (issue 7). Placeholder until the API lands."""

app_name = "apikeys"

urlpatterns: list = []

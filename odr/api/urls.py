"""/api/v1/: the REST API (issue 7). Placeholder until the API lands."""

app_name = "api"

urlpatterns: list = []

"""The merchant portal's own pages (the complaint page itself is shared: complaints.urls)."""

from django.urls import path

from .views import merchant

app_name = "merchant"

urlpatterns = [
    path("merchant/", merchant.dashboard, name="dashboard"),
]

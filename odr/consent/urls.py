from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("receipts/verify/", views.verify, name="verify"),
]

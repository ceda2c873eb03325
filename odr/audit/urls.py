from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path(".well-known/audit-checkpoints/", views.checkpoint_list, name="checkpoints"),
    path(".well-known/audit-checkpoints/<int:number>.jws", views.checkpoint_file, name="checkpoint"),
]

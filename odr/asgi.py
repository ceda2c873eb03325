import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
application = get_asgi_application()

from odr.startup import ensure_safe_to_serve  # noqa: E402 - needs the settings loaded above

ensure_safe_to_serve()

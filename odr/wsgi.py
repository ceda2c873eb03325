import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
application = get_wsgi_application()

from odr.startup import ensure_safe_to_serve  # noqa: E402 - needs the settings loaded above

ensure_safe_to_serve()

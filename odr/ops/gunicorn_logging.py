"""gunicorn's logs as one JSON object per line (LOG_FORMAT=json; gunicorn.conf.py picks this class).

The access log is built with json.dumps, not a format string of placeholders, so a path holding a
quote or a backslash still gives valid JSON. No query string (it may hold personal data, e.g. a
search), no user agent or referrer; the request id is the response's X-Request-ID
(odr/ops/logcontext.py). gunicorn's own messages (start, worker boot and exit) are JSON too. Imports
no Django: the master process never loads the application.
"""

import json
import traceback

from gunicorn.glogging import Logger
from pythonjsonlogger.json import JsonFormatter


class JsonLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter(
            ["levelname", "name", "message", "process"],
            rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
            timestamp="time",
        )
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        record = {
            "logger": "gunicorn.access",
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "status": atoms["s"],
            "bytes": atoms["B"],
            "duration_us": atoms["D"],
            "pid": atoms["p"],
            "request_id": atoms["{x-request-id}o"],
        }
        try:
            self.access_log.info("%s", json.dumps(record, ensure_ascii=False))
        except Exception:
            self.error(traceback.format_exc())

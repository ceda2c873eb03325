"""On PostgreSQL, refuse TRUNCATE on audit events and on the chains' heads (D34).

Row triggers (0002) never see a TRUNCATE: without this, one statement empties the trail. The heads
are refused too, since they are what reveals an emptied stream. See odr/dbtriggers.py.
"""

from django.db import migrations

from odr.dbtriggers import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_stream_heads")]

    operations = [
        refuse_truncate(
            table="audit_auditevent",
            trigger="audit_event_no_truncate",
            message="audit events are append-only",
        ),
        refuse_truncate(
            table="audit_auditstreamhead",
            trigger="audit_head_no_truncate",
            message="audit chain heads cannot be emptied",
        ),
    ]

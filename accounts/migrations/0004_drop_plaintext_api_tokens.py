"""API tokens moved to django-rest-knox (hashed, expiring). DRF's authtoken table kept every key in
plain text; the app is no longer installed, so drop its table (and the keys) where it exists."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_institution_face_retention_days"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]

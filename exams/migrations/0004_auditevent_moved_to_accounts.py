# AuditEvent now belongs to accounts (see accounts/migrations/0002_auditevent_moved_from_exams.py).
# State only: the table exams_auditevent and its rows stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("exams", "0003_sessions_questions_reviews"),
        ("accounts", "0002_auditevent_moved_from_exams"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]

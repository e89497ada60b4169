# AuditEvent moves from exams to accounts (apps depend one way: accounts <- exams <- proctoring).
# State only: the table stays exams_auditevent, with its rows, index and constraints.

import django.db.models.deletion
import django.db.models.manager
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("exams", "0003_sessions_questions_reviews"),  # the table exists by then
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("action", models.CharField(max_length=64)),
                        ("target_type", models.CharField(max_length=64)),
                        ("target_id", models.CharField(max_length=64)),
                        ("data", models.JSONField(blank=True, default=dict)),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        ("actor", models.ForeignKey(blank=True, null=True,
                                                    on_delete=django.db.models.deletion.SET_NULL,
                                                    related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("institution", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                          related_name="+", to="accounts.institution")),
                    ],
                    options={
                        "db_table": "exams_auditevent",
                        "ordering": ["-at"],
                        "indexes": [models.Index(fields=["target_type", "target_id"],
                                                 name="exams_audit_target__99ba47_idx")],
                    },
                    managers=[
                        ("objects", django.db.models.manager.Manager()),
                        ("unscoped", django.db.models.manager.Manager()),
                    ],
                ),
            ],
            database_operations=[],
        ),
    ]

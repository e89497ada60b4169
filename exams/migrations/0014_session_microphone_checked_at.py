from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("exams", "0013_session_end_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="examsession",
            name="microphone_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]

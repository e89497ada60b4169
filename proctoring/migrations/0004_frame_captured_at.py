"""Frame.captured_at: when the browser took the frame (frames kept offline arrive late)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def copy_received_at(apps: Any, schema_editor: Any) -> None:
    Frame = apps.get_model("proctoring", "Frame")  # noqa: N806 - a model class
    Frame.unscoped.update(captured_at=models.F("received_at"))


class Migration(migrations.Migration):
    dependencies = [("proctoring", "0003_purgerecord_faces_incidents")]

    operations = [
        migrations.AddField(model_name="frame", name="captured_at",
                            field=models.DateTimeField(null=True)),
        migrations.RunPython(copy_received_at, migrations.RunPython.noop),
        migrations.AlterField(model_name="frame", name="captured_at",
                              field=models.DateTimeField(db_index=True)),
        migrations.AlterModelOptions(name="frame", options={"ordering": ["captured_at", "id"]}),
    ]

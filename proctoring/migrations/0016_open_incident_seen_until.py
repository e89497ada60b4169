"""An open frame incident's ``ended_at`` is the capture time of the latest frame that showed it (proctoring.incidents):
the ones open before this carried none, and the risk score counted them until now."""

from django.db import migrations


def seen_until(apps, schema_editor):
    Incident = apps.get_model("proctoring", "Incident")
    for incident in (Incident.objects.filter(is_open=True, ended_at__isnull=True, last_frame__isnull=False)
                     .select_related("last_frame").only("pk", "last_frame__captured_at").iterator()):
        Incident.objects.filter(pk=incident.pk).update(ended_at=incident.last_frame.captured_at)


class Migration(migrations.Migration):
    dependencies = [("proctoring", "0015_frame_session_captured")]
    operations = [migrations.RunPython(seen_until, migrations.RunPython.noop)]

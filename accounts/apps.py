from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Institutions and people"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in

        from accounts import throttle

        user_locked_out.connect(throttle.lockout_signalled, dispatch_uid="accounts.lockout_signalled")
        user_logged_in.connect(throttle.forget_lockouts, dispatch_uid="accounts.forget_lockouts")

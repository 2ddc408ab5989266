from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "accounts.security"
    label = "account_security"
    verbose_name = "Sign-in security"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.security.sessions import session_stamp_sign_in_receiver

        # Every way in (the login page, the two-factor step, the admin, force_login in tests)
        # goes through django.contrib.auth.login, which sends this signal; stamping here
        # means the first page after sign-in does not have to write the session again.
        user_logged_in.connect(
            session_stamp_sign_in_receiver, dispatch_uid="account_security_stamp_sign_in"
        )

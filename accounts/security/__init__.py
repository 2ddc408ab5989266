"""Sign-in security: failed-login cool-off, session limits, two-factor for administrators.

The mechanics come from django-allauth (account + mfa); this package holds the product's
choices on top of it.
"""

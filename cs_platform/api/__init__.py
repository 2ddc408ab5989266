"""Shared pieces of the REST API, one module each so DRF's settings can import them without
cycles: pagination, throttles, errors (the exception handler), scoping (the mixin every
viewset uses so the API obeys the same book-of-business rules as the pages)."""

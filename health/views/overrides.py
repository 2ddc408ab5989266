from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def override_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def override_revoke(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def interaction_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def interaction_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def interaction_delete(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def scorecard_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def scorecard_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def scorecard_detail(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def scorecard_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

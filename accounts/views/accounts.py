from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def account_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def account_export(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def account_detail(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

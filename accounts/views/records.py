from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def account_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def account_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def contact_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def contact_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def contract_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def task_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def task_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def task_complete(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def task_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

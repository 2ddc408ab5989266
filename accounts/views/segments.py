from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def segment_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def segment_create(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def segment_preview(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def segment_detail(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def segment_members_update(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

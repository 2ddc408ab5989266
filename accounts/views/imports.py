from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def import_upload(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404


def import_detail(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

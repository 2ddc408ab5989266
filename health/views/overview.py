from django.http import Http404, HttpRequest, HttpResponse

# Placeholder views: each is replaced by its real implementation.


def health_overview(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404

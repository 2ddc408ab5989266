from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class CursorPagination(pagination.CursorPagination):
    """For large, append-mostly collections (usage records, health scores): stable pages
    without COUNT(*) over millions of rows."""

    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000
    ordering = "-pk"

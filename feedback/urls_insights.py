"""The feedback pages under /feedback/ (namespace "feedback"): the overview, verbatims and
their themes, product requests."""

from django.urls import URLPattern, path

from feedback.views import insights

urlpatterns: list[URLPattern] = [
    path("", insights.overview, name="overview"),
    path("verbatims/", insights.verbatim_list, name="verbatim_list"),
    path("answers/<int:pk>/tags/", insights.answer_tags, name="answer_tags"),
    path(
        "answers/<int:pk>/tags/<int:tag_pk>/remove/",
        insights.answer_tag_delete,
        name="answer_tag_delete",
    ),
    path("product-requests/", insights.product_request_list, name="product_requests"),
    path(
        "product-requests/export.csv",
        insights.product_request_export,
        name="product_requests_export",
    ),
]

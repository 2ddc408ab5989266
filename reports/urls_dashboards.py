from django.urls import path

from reports.views import dashboards

urlpatterns = [
    path("dashboard/", dashboards.dashboard, name="dashboard"),
    path("my-book/", dashboards.my_book, name="my_book"),
]

from django.urls import path

from accounts.views import accounts, imports, interactions, records, segments, tasks

app_name = "accounts"

urlpatterns = [
    # Account list, export and the 360° page.
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/export.csv", accounts.account_export, name="account_export"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account_detail"),
    # Creating and editing accounts, contacts and contracts.
    path("accounts/new/", records.account_create, name="account_create"),
    path("accounts/<int:pk>/edit/", records.account_edit, name="account_edit"),
    path("accounts/<int:pk>/contacts/new/", records.contact_create, name="contact_create"),
    path("contacts/<int:pk>/edit/", records.contact_edit, name="contact_edit"),
    path("accounts/<int:pk>/contracts/new/", records.contract_create, name="contract_create"),
    # Interactions logged on an account.
    path(
        "accounts/<int:pk>/interactions/new/",
        interactions.interaction_create,
        name="interaction_create",
    ),
    path("interactions/<int:pk>/edit/", interactions.interaction_edit, name="interaction_edit"),
    path(
        "interactions/<int:pk>/delete/", interactions.interaction_delete, name="interaction_delete"
    ),
    # Tasks.
    path("tasks/", tasks.task_list, name="task_list"),
    path("accounts/<int:pk>/tasks/new/", tasks.task_create, name="task_create"),
    path("tasks/<int:pk>/complete/", tasks.task_complete, name="task_complete"),
    path("tasks/<int:pk>/edit/", tasks.task_edit, name="task_edit"),
    # Segments.
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_create, name="segment_create"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segments.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/members/", segments.segment_members_update, name="segment_members"),
    # CSV imports.
    path("imports/", imports.import_upload, name="import_upload"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
]

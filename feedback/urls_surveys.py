"""Survey settings, campaigns, the answer import, follow-ups and tag rules, under
/feedback/surveys/ in the "feedback" namespace."""

from django.urls import path

from feedback.views import follow_ups, surveys, tag_rules

urlpatterns = [
    # Surveys and their campaigns.
    path("", surveys.survey_list, name="survey_list"),
    path("new/", surveys.survey_create, name="survey_create"),
    path("<int:pk>/", surveys.survey_detail, name="survey_detail"),
    path("<int:pk>/edit/", surveys.survey_edit, name="survey_edit"),
    path("<int:pk>/campaigns/new/", surveys.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", surveys.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/send/", surveys.campaign_send, name="campaign_send"),
    path("campaigns/<int:pk>/delete/", surveys.campaign_discard, name="campaign_delete"),
    # Answers from other tools.
    path("import/", surveys.answer_import, name="answer_import"),
    # Closing the loop on one unhappy answer.
    path("answers/<int:answer_id>/follow-up/", follow_ups.follow_up, name="follow_up"),
    # Tags and the keyword rules that set them.
    path("tags/", tag_rules.tag_rule_list, name="tag_rule_list"),
    path("tags/new/", tag_rules.tag_create, name="tag_create"),
    path("tags/<int:pk>/edit/", tag_rules.tag_edit, name="tag_edit"),
    path("tags/<int:pk>/delete/", tag_rules.tag_remove, name="tag_delete"),
    path("tags/rules/new/", tag_rules.tag_rule_create, name="tag_rule_create"),
    path("tags/rules/<int:pk>/edit/", tag_rules.tag_rule_edit, name="tag_rule_edit"),
    path("tags/rules/<int:pk>/delete/", tag_rules.tag_rule_remove, name="tag_rule_delete"),
    path("tags/reapply/", tag_rules.tag_rules_apply, name="tag_rules_reapply"),
]

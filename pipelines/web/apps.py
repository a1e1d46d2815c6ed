from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "pipelines.web"
    label = "web"
    verbose_name = "LIIA front door"
    default_auto_field = "django.db.models.BigAutoField"

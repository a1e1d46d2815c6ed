"""The web front door (Django): authorities upload returns and see their answer, members download
restricted workbooks, LIIA's team chases and releases. Imports the stages, never Dagster."""

"""The quarter's assets, from the files in the inbox to the analysts' warehouse, one module per
stage.

Each run is one quarter (a partition, `2026-27 Q2`), so every materialisation and check result says
which quarter it is about; a backfill of many quarters is one run per quarter, oldest first."""

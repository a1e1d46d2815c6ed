"""Running it as a service: install, health, backup and restore, and the command line. The top of
the house: imports every stage and defs; nothing imports it."""

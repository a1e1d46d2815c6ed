"""The working DuckDB database: its tables and their dictionary, loading a quarter, the analysts'
model and keys, the analysts' copy, and numbered migrations. Imports only the stages before it."""

"""Submissions to values and issues: value conversion, pandera schemas and rules, plausibility,
settlement of each quarter, and feedback rows. Imports only collection and receive."""

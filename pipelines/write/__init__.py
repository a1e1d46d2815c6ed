"""What people read: the house style, charts, theme workbooks, packs, status and feedback workbooks,
the template, pages, exports and alert emails. Imports only the stages before it (up to release)."""

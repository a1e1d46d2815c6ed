"""Files to submissions: reading workbooks in contained workers, returns and their covers, the inbox,
the ledger of what arrived, and safe text. Imports only collection."""

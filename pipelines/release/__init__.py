"""What each audience may see: when a quarter is released, disclosure control, the audit, and the
public edition's stored figures. Imports only the stages before it (up to warehouse)."""

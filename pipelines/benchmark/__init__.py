"""Values to comparisons: indicators, aggregates, ranks, comparator groups, neighbours and DfE's
published figures. Imports only collection, receive and validate."""

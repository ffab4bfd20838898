"""Reports: readable text tables and machine-readable files (JSON, CSV) of a Result."""

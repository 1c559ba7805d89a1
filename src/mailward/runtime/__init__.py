"""Running the gateway: assembling the parts, spool workers, start and stop."""

"""One module per area of the console; each defines `router` (its routes, each with its role guard)."""

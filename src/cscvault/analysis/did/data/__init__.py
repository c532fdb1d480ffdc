"""Package data: the DfE local-authority panel (OGL v3) and its source list."""

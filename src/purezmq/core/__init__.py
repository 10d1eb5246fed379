"""Context, socket core, options, endpoints: the pieces that own the others."""

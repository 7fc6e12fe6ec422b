"""One module per rule; every Rule subclass defined here is discovered by ``perflint.registry``."""

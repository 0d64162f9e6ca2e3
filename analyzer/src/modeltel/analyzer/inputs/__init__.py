"""The inputs layer: label and reference uploads. It imports only the base layer."""

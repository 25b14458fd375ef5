"""Constants shared by the classification files."""

FAMILY = "classification"

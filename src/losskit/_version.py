"""The installed version, read from the package metadata (pyproject.toml is the one place it is written)."""

from importlib import metadata

try:
    __version__ = metadata.version("losskit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

"""Model definitions; each model lives flat in its own folder so it ships to the Hub as is.
Importing this package registers them with transformers' Auto classes."""

from . import luab  # noqa: F401

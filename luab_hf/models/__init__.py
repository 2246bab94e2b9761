"""Model definitions; each model lives flat in its own folder so it ships to the Hub as is."""

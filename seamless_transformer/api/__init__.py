"""The Python face of seamless-transformer (L5)."""

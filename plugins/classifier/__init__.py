"""A digit classifier shipped as a zoo model, to judge generated digits."""

"""Example extensions, each in one file, as a user of nkpipe would write them (see tests/test_extensions.py)."""

"""Operator command line: talks to a running Omniman API (local or deployed) over HTTP."""

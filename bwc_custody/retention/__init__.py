"""Retention and disposition: the schedule each recording is kept under, holds, destruction."""

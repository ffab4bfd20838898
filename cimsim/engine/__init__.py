"""Discrete-event timing of the controller scheduling MC passes over the tiles (simpy)."""

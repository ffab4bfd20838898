"""Functional (accuracy and uncertainty) evaluation."""

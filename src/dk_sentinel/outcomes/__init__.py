"""Closing the loop: backtests of past scores against later outcomes, calibrated profiles."""

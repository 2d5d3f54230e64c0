"""The write model: aggregates, their events, and the application that runs commands."""

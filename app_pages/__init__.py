"""The app's pages, their shared state and their figures."""

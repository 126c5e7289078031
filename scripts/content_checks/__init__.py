"""Content checks for the complaint assistant: responses, training examples, keyword lists.

Each check is a function that takes file paths (or already-loaded data) and returns a list
of `Finding`s, so tests can point it at small temporary files. `runner.run_all` runs them all.
"""

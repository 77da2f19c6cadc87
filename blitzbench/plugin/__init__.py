"""The pytest plugin the root conftest.py loads: options, parametrization, saving and tables."""

"""The suite's pytest plugin lives in the blitzbench package: options, parametrization, fixtures,
the saved run and its tables (blitzbench.plugin.suite), and --instructions
(blitzbench.plugin.instructions). ``pytest --help``, section "blitzbench", lists the options."""

pytest_plugins = ["blitzbench.plugin.suite", "blitzbench.plugin.instructions"]

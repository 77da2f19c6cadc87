"""Test-only pytest plugin: the counts a run's suite session holds, shown at the end of the run.

Loaded with ``-p blitz_show_session_counts`` (tests/plugins on PYTHONPATH) by tests/test_instructions.py:
--instructions keeps its counting state in the run's SuiteSession (blitzbench.plugin.session), so
after a counted run the session holds what the counting processes counted. The counting processes
themselves (which count and hold no counts) show nothing.
"""

from blitzbench.plugin.session import KEY

SHOWN_AS = "blitzbench session counted:"


def pytest_terminal_summary(terminalreporter, config):
    counting = config.stash[KEY].counting if KEY in config.stash else None
    if counting is not None and counting.result is not None:
        terminalreporter.write_line(f"{SHOWN_AS} {','.join(case.id for case in sorted(counting.result.counts))}")

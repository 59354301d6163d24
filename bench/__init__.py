"""
The side-by-side benchmark (docs/performance.rst): wptserve 4.0.3, a plain twisted.web
static resource and twisted_pyhandlers on the same handler files, driven
by ``wrk``.  Run it with ``python bench/run.py`` (see ``docs/performance.rst``).

The modules are importable (``bench.wrk``, ``bench.servers``...) so that
``tests/test_bench_smoke.py`` can exercise them on something tiny.
"""

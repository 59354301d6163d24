"""
The differential suite: the same handler files served by wptserve 4.0.3 and
by twisted_pyhandlers, answers compared on the wire.
"""
